import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createDeflateRaw, createInflateRaw, deflateRawSync, constants as zlibConstants } from 'node:zlib';
import { HandshakeError, ProtocolError } from '../../../src/websocket/protocol/errors.js';
import { parseExtensionHeader } from '../../../src/websocket/protocol/extension.js';
import {
  acceptServerResponse,
  clientOffer,
  negotiateServer,
  PerMessageDeflate,
  type PerMessageDeflateOptions,
  type PerMessageDeflateParams,
} from '../../../src/websocket/protocol/permessage-deflate.js';

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const DEFAULTS: PerMessageDeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

function pmd(isServer: boolean, params: Partial<PerMessageDeflateParams> = {}, options: PerMessageDeflateOptions = {}) {
  return new PerMessageDeflate(isServer, { ...DEFAULTS, ...params }, 'permessage-deflate', options);
}

/** `compress`, awaited. */
function comp(p: PerMessageDeflate, data: Buffer): Promise<Buffer | null> {
  return new Promise((resolve, reject) => p.compress(data, (error, payload) => (error ? reject(error) : resolve(payload))));
}

/** `decompress`, awaited. */
function dec(p: PerMessageDeflate, data: Buffer, maxSize: number): Promise<Buffer> {
  return new Promise((resolve, reject) => p.decompress(data, maxSize, (error, out) => (error ? reject(error) : resolve(out))));
}

function isProtocolError(code: string) {
  return (err: unknown) => err instanceof ProtocolError && err.code === code;
}

/** Deterministic text made of repeated words, so messages share substrings at many distances. */
function text(seed: number, length: number): Buffer {
  const words = ['hello', 'world', 'chat', 'room', 'nick', 'message', 'deflate', 'window', 'frame', 'socket'];
  let x = seed >>> 0 || 1;
  let out = '';
  while (out.length < length) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out += `${words[x % words.length]}${x % 7 === 0 ? `-${x % 1000}` : ''} `;
  }
  return Buffer.from(out.slice(0, length));
}

/** A stateful zlib deflate stream, the way a peer with context takeover compresses (RFC 7692 §7.2.1). */
function streamCompressor(windowBits = 15): (data: Buffer) => Promise<Buffer> {
  const deflate = createDeflateRaw({ windowBits });
  const chunks: Buffer[] = [];
  deflate.on('data', (chunk: Buffer) => chunks.push(chunk));
  return (data) =>
    new Promise((resolve) => {
      deflate.write(data);
      deflate.flush(zlibConstants.Z_SYNC_FLUSH, () => {
        const out = Buffer.concat(chunks.splice(0));
        assert.deepEqual(out.subarray(-4), TAIL);
        resolve(out.subarray(0, out.length - 4));
      });
    });
}

/** A stateful zlib inflate stream, the way a peer with context takeover decompresses (RFC 7692 §7.2.2). */
function streamDecompressor(windowBits = 15): (payload: Buffer) => Promise<Buffer> {
  const inflate = createInflateRaw({ windowBits });
  const chunks: Buffer[] = [];
  inflate.on('data', (chunk: Buffer) => chunks.push(chunk));
  return (payload) =>
    new Promise((resolve, reject) => {
      inflate.once('error', reject);
      inflate.write(Buffer.concat([payload, TAIL]));
      inflate.flush(() => {
        inflate.off('error', reject);
        resolve(Buffer.concat(chunks.splice(0)));
      });
    });
}

describe('decompress: RFC 7692 §7.2.3 examples', async () => {
  test('§7.2.3.1 "Hello" in one compressed block', async () => {
    assert.deepEqual(await dec(pmd(false), hex('f2 48 cd c9 c9 07 00'), 100), Buffer.from('Hello'));
  });

  test('§7.2.3.2 two messages sharing the LZ77 window', async () => {
    const client = pmd(false);
    assert.deepEqual(await dec(client, hex('f2 48 cd c9 c9 07 00'), 100), Buffer.from('Hello'));
    assert.deepEqual(await dec(client, hex('f2 00 11 00 00'), 100), Buffer.from('Hello'));
    // A third message can still refer back to both.
    assert.deepEqual(await dec(client, hex('f2 00 11 00 00'), 100), Buffer.from('Hello'));
  });

  test('§7.2.3.2 second message fails without the window when server_no_context_takeover was agreed', async () => {
    const client = pmd(false, { serverNoContextTakeover: true });
    assert.deepEqual(await dec(client, hex('f2 48 cd c9 c9 07 00'), 100), Buffer.from('Hello'));
    await assert.rejects(dec(client, hex('f2 00 11 00 00'), 100), isProtocolError('INVALID_COMPRESSED_DATA'));
  });

  test('§7.2.3.3 a block with no compression', async () => {
    assert.deepEqual(await dec(pmd(true), hex('00 05 00 fa ff 48 65 6c 6c 6f 00'), 100), Buffer.from('Hello'));
  });

  test('§7.2.3.4 a block with BFINAL set; what follows it is ignored; the next message gets a fresh inflater', async () => {
    const server = pmd(true);
    assert.deepEqual(await dec(server, hex('f3 48 cd c9 c9 07 00 00'), 100), Buffer.from('Hello'));
    // BFINAL ended that DEFLATE stream (RFC 1951 §3.2.3): the next message
    // is inflated, not silently dropped by an ended zlib stream ...
    assert.deepEqual(await dec(server, hex('f2 48 cd c9 c9 07 00'), 100), Buffer.from('Hello'));
    // ... and one that refers back past a BFINAL fails with 1007.
    const other = pmd(true);
    await dec(other, hex('f3 48 cd c9 c9 07 00 00'), 100);
    await assert.rejects(dec(other, hex('f2 00 11 00 00'), 100), isProtocolError('INVALID_COMPRESSED_DATA'));
  });

  test('§7.2.3.5 two DEFLATE blocks in one message', async () => {
    assert.deepEqual(await dec(pmd(true), hex('f2 48 05 00 00 00 ff ff ca c9 c9 07 00'), 100), Buffer.from('Hello'));
  });

  test('an empty message: a lone empty stored block, or no bytes at all', async () => {
    assert.deepEqual(await dec(pmd(true), hex('00'), 0), Buffer.alloc(0));
    assert.deepEqual(await dec(pmd(true), Buffer.alloc(0), 0), Buffer.alloc(0));
  });
});

describe('decompress: limits and errors', async () => {
  test('the size limit is inclusive', async () => {
    assert.deepEqual(await dec(pmd(true), hex('f2 48 cd c9 c9 07 00'), 5), Buffer.from('Hello'));
    await assert.rejects(dec(pmd(true), hex('f2 48 cd c9 c9 07 00'), 4), isProtocolError('MESSAGE_TOO_BIG'));
    await assert.rejects(dec(pmd(true), hex('f2 48 cd c9 c9 07 00'), 0), isProtocolError('MESSAGE_TOO_BIG'));
    assert.deepEqual(await dec(pmd(true), hex('f2 48 cd c9 c9 07 00'), Number.POSITIVE_INFINITY), Buffer.from('Hello'));
  });

  test('a 50 MB zip bomb is refused with MESSAGE_TOO_BIG (1009)', async () => {
    const bomb = deflateRawSync(Buffer.alloc(50_000_000), { finishFlush: zlibConstants.Z_SYNC_FLUSH }).subarray(0, -4);
    assert.ok(bomb.length < 100_000);
    await assert.rejects(dec(pmd(true), bomb, 1 << 20),
      (err: unknown) => err instanceof ProtocolError && err.code === 'MESSAGE_TOO_BIG' && err.closeCode === 1009,
    );
  });

  test('a 1 GiB zip bomb is refused without inflating it all', async () => {
    // A zero window followed by 1024 copies of "1 MiB of zeros given a zero window".
    const zeros = Buffer.alloc(1 << 15);
    const flush = { finishFlush: zlibConstants.Z_SYNC_FLUSH };
    const head = deflateRawSync(zeros, flush);
    const mib = deflateRawSync(Buffer.alloc(1 << 20), { ...flush, dictionary: zeros });
    const bomb = Buffer.concat([head, ...new Array<Buffer>(1024).fill(mib)]);
    const server = pmd(true);
    await assert.rejects(dec(server, bomb, 1 << 20), isProtocolError('MESSAGE_TOO_BIG'));
    // zlib stopped at the limit: what it produced is the limit plus at most
    // one output chunk (64 KiB), not a gigabyte (no clock involved).
    assert.ok(server.inflatedBytes <= (1 << 20) + 64 * 1024, `inflated ${server.inflatedBytes} bytes`);
  });

  test('a small zip bomb (4 KiB inflating to 4 MiB) stops at the limit too', async () => {
    const bomb = deflateRawSync(Buffer.alloc(4 << 20), { finishFlush: zlibConstants.Z_SYNC_FLUSH }).subarray(0, -4);
    assert.ok(bomb.length <= 4096, `${bomb.length} bytes`);
    const server = pmd(true);
    await assert.rejects(dec(server, bomb, 1 << 20), isProtocolError('MESSAGE_TOO_BIG'));
    assert.ok(server.inflatedBytes <= (1 << 20) + 64 * 1024, `inflated ${server.inflatedBytes} bytes`);
    // The connection's next message still inflates (a fresh stream).
    assert.deepEqual(await dec(server, hex('f2 48 cd c9 c9 07 00'), 100), Buffer.from('Hello'));
  });

  test('garbage is INVALID_COMPRESSED_DATA (1007)', async () => {
    for (const payload of [hex('ff ff ff ff'), hex('07'), Buffer.from('not deflate at all, just text')]) {
      await assert.rejects(dec(pmd(true), payload, 1 << 20),
        (err: unknown) => err instanceof ProtocolError && err.code === 'INVALID_COMPRESSED_DATA' && err.closeCode === 1007,
      );
    }
  });

  test('a back-reference before the start of the window is invalid', async () => {
    await assert.rejects(dec(pmd(true), hex('f2 00 11 00 00'), 100), isProtocolError('INVALID_COMPRESSED_DATA'));
  });
});

describe('compress', async () => {
  test('messages below the threshold go uncompressed', async () => {
    const server = pmd(true);
    assert.equal(await comp(server, Buffer.alloc(1023, 'a')), null);
    assert.notEqual(await comp(server, Buffer.alloc(1024, 'a')), null);
    const eager = pmd(true, {}, { threshold: 0 });
    assert.notEqual(await comp(eager, Buffer.alloc(64, 'a')), null);
    assert.equal(await comp(pmd(true, {}, { threshold: 100 }), Buffer.alloc(99, 'a')), null);
  });

  test('data that does not shrink goes uncompressed', async () => {
    const eager = pmd(true, {}, { threshold: 0 });
    assert.equal(await comp(eager, Buffer.from('Hello')), null);
    assert.equal(await comp(eager, Buffer.alloc(0)), null);
    const noise = Buffer.alloc(4096);
    for (let i = 0, x = 1; i < noise.length; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      noise[i] = x >>> 24;
    }
    assert.equal(await comp(eager, noise), null);
  });

  test('strips 00 00 ff ff and round-trips through a plain zlib inflater', async () => {
    const data = text(1, 5000);
    const copy = Buffer.from(data);
    const payload = await comp(pmd(true), data);
    assert.ok(payload);
    assert.ok(payload.length < data.length / 2);
    assert.notDeepEqual(payload.subarray(-4), TAIL);
    assert.deepEqual(data, copy, 'the input is not modified');
    assert.deepEqual(await streamDecompressor()(payload), data);
  });

  test('without context takeover equal inputs give equal payloads', async () => {
    const server = pmd(true);
    const data = text(2, 3000);
    const first = await comp(server, data);
    assert.ok(first);
    assert.deepEqual(await comp(server, data), first);
    // ... and a fresh inflater (no dictionary) reads each of them.
    assert.deepEqual(await dec(pmd(false, { serverNoContextTakeover: true }), first, 1 << 20), data);
  });

  test('shareKey groups connections whose payloads are interchangeable', async () => {
    const a = pmd(true);
    const b = pmd(true);
    assert.equal(typeof a.shareKey, 'string');
    assert.equal(a.shareKey, b.shareKey);
    const data = text(3, 4000);
    assert.deepEqual(await comp(a, data), await comp(b, data));
    assert.notEqual(pmd(true, { serverMaxWindowBits: 10 }).shareKey, a.shareKey);
    assert.notEqual(pmd(true, {}, { level: 6 }).shareKey, a.shareKey);
    assert.notEqual(pmd(true, {}, { threshold: 10 }).shareKey, a.shareKey);
    assert.equal(pmd(true, {}, { contextTakeover: true }).shareKey, null);
    // Negotiated server_no_context_takeover overrides the option.
    assert.equal(typeof pmd(true, { serverNoContextTakeover: true }, { contextTakeover: true }).shareKey, 'string');
  });

  test('with context takeover a repeated message shrinks and a stateful peer inflates it', async () => {
    const server = pmd(true, {}, { contextTakeover: true });
    const peer = streamDecompressor();
    const data = text(4, 3000);
    const first = await comp(server, data);
    const second = await comp(server, data);
    assert.ok(first && second);
    assert.ok(second.length < first.length / 5, `${second.length} vs ${first.length}`);
    assert.deepEqual(await peer(first), data);
    assert.deepEqual(await peer(second), data);
  });

  test('context takeover is not used when *_no_context_takeover was agreed', async () => {
    const server = pmd(true, { serverNoContextTakeover: true }, { contextTakeover: true });
    const data = text(5, 3000);
    assert.deepEqual(await comp(server, data), await comp(server, data));
    const client = pmd(false, { clientNoContextTakeover: true }, { contextTakeover: true });
    assert.deepEqual(await comp(client, data), await comp(client, data));
  });

  test('the negotiated window size is honoured (a 9-bit inflater reads the output)', async () => {
    for (const contextTakeover of [false, true]) {
      const server = pmd(true, { serverMaxWindowBits: 9 }, { contextTakeover, threshold: 0 });
      const peer = streamDecompressor(9);
      for (let i = 0; i < 5; i++) {
        const data = text(10 + i, 2000 + i * 500);
        const payload = await comp(server, data);
        assert.ok(payload);
        assert.deepEqual(await peer(payload), data);
      }
    }
  });

  test('a client told client_max_window_bits=8 never compresses', async () => {
    const client = pmd(false, { clientMaxWindowBits: 8 }, { threshold: 0 });
    assert.equal(await comp(client, text(6, 5000)), null);
    assert.equal(client.shareKey, 'uncompressed');
    // ... but still decompresses what the server sends.
    assert.deepEqual(await dec(client, hex('f2 48 cd c9 c9 07 00'), 100), Buffer.from('Hello'));
  });
});

describe('interop with stateful zlib streams across many messages', async () => {
  // Sizes chosen so the 32 KiB window slides, and one message is larger than it.
  const sizes = [100, 2000, 5000, 40_000, 300, 20_000, 33_000, 1, 8000, 12_345];

  test('receiving from a peer that uses context takeover', async () => {
    const peer = streamCompressor();
    const server = pmd(true);
    for (const [i, size] of sizes.entries()) {
      const data = text(100 + (i % 3), size);
      const payload = await peer(data);
      assert.deepEqual(await dec(server, payload, 1 << 20), data, `message ${i}`);
    }
  });

  test('receiving from a peer with a small window', async () => {
    const peer = streamCompressor(9);
    const client = pmd(false, { serverMaxWindowBits: 9 });
    for (const [i, size] of sizes.entries()) {
      const data = text(200 + (i % 2), size);
      assert.deepEqual(await dec(client, await peer(data), 1 << 20), data, `message ${i}`);
    }
  });

  test('sending with context takeover to a stateful peer', async () => {
    for (const isServer of [true, false]) {
      const peer = streamDecompressor();
      const sender = pmd(isServer, {}, { contextTakeover: true, threshold: 0 });
      for (const [i, size] of sizes.entries()) {
        const data = text(300 + (i % 3), size);
        const payload = await comp(sender, data);
        // Messages sent uncompressed never reach the peer's inflater.
        if (payload) assert.deepEqual(await peer(payload), data, `message ${i}`);
      }
    }
  });

  test('sending without context takeover to a stateful peer', async () => {
    const peer = streamDecompressor();
    const sender = pmd(false, {}, { threshold: 0 });
    for (const [i, size] of sizes.entries()) {
      const data = text(400 + (i % 3), size);
      const payload = await comp(sender, data);
      if (payload) assert.deepEqual(await peer(payload), data, `message ${i}`);
    }
  });
});

function serverResponse(offer: string, options: PerMessageDeflateOptions = {}): string | null {
  return negotiateServer(parseExtensionHeader(offer), options)?.header ?? null;
}

describe('negotiateServer', async () => {
  const table: Array<[string, PerMessageDeflateOptions, string | null]> = [
    ['permessage-deflate', {}, 'permessage-deflate'],
    ['permessage-deflate; client_max_window_bits', {}, 'permessage-deflate'],
    ['permessage-deflate; client_max_window_bits=10', {}, 'permessage-deflate'],
    ['permessage-deflate; client_max_window_bits=8', {}, 'permessage-deflate'],
    [
      'permessage-deflate; client_no_context_takeover; client_max_window_bits',
      {},
      'permessage-deflate; client_no_context_takeover',
    ],
    ['permessage-deflate; server_no_context_takeover', {}, 'permessage-deflate; server_no_context_takeover'],
    ['permessage-deflate; server_max_window_bits=9', {}, 'permessage-deflate; server_max_window_bits=9'],
    ['permessage-deflate; server_max_window_bits=12', {}, 'permessage-deflate; server_max_window_bits=12'],
    ['permessage-deflate; server_max_window_bits=15', {}, 'permessage-deflate; server_max_window_bits=15'],
    ['permessage-deflate; server_max_window_bits="10"', {}, 'permessage-deflate; server_max_window_bits=10'],
    ['Permessage-Deflate; Server_Max_Window_Bits=10', {}, 'permessage-deflate; server_max_window_bits=10'],
    [
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12',
      {},
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10',
    ],
    // zlib cannot deflate with an 8-bit window: accepted, and this server then never compresses.
    ['permessage-deflate; server_max_window_bits=8', {}, 'permessage-deflate; server_max_window_bits=8'],
    ['permessage-deflate; server_max_window_bits=8, permessage-deflate', {}, 'permessage-deflate; server_max_window_bits=8'],
    // Other extensions are declined; the first acceptable offer wins.
    ['x-webkit-deflate-frame', {}, null],
    ['foo, permessage-deflate; server_max_window_bits=11', {}, 'permessage-deflate; server_max_window_bits=11'],
    [
      'permessage-deflate; server_max_window_bits=10, permessage-deflate',
      {},
      'permessage-deflate; server_max_window_bits=10',
    ],
    // RFC 7692 §7: unknown, duplicate and invalid parameters decline the offer.
    ['permessage-deflate; unknown', {}, null],
    ['permessage-deflate; unknown, permessage-deflate', {}, 'permessage-deflate'],
    ['permessage-deflate; server_no_context_takeover; server_no_context_takeover', {}, null],
    ['permessage-deflate; client_max_window_bits; client_max_window_bits=10', {}, null],
    ['permessage-deflate; server_max_window_bits', {}, null],
    ['permessage-deflate; server_max_window_bits=7', {}, null],
    ['permessage-deflate; server_max_window_bits=16', {}, null],
    ['permessage-deflate; server_max_window_bits=010', {}, null],
    ['permessage-deflate; server_max_window_bits=1.0', {}, null],
    ['permessage-deflate; server_max_window_bits=+9', {}, null],
    ['permessage-deflate; client_max_window_bits=16', {}, null],
    ['permessage-deflate; client_max_window_bits=09', {}, null],
    ['permessage-deflate; server_no_context_takeover=1', {}, null],
    ['permessage-deflate; client_no_context_takeover=true', {}, null],
    // Server options.
    ['permessage-deflate', { serverNoContextTakeover: true }, 'permessage-deflate; server_no_context_takeover'],
    ['permessage-deflate', { clientNoContextTakeover: true }, 'permessage-deflate; client_no_context_takeover'],
    ['permessage-deflate', { serverMaxWindowBits: 10 }, 'permessage-deflate; server_max_window_bits=10'],
    ['permessage-deflate', { serverMaxWindowBits: 15 }, 'permessage-deflate'],
    [
      'permessage-deflate; server_max_window_bits=12',
      { serverMaxWindowBits: 10 },
      'permessage-deflate; server_max_window_bits=10',
    ],
    [
      'permessage-deflate; server_max_window_bits=9',
      { serverMaxWindowBits: 10 },
      'permessage-deflate; server_max_window_bits=9',
    ],
    [
      'permessage-deflate; client_max_window_bits',
      { clientMaxWindowBits: 10 },
      'permessage-deflate; client_max_window_bits=10',
    ],
    [
      'permessage-deflate; client_max_window_bits=9',
      { clientMaxWindowBits: 10 },
      'permessage-deflate; client_max_window_bits=9',
    ],
    // RFC 7692 §7.1.2.2: never client_max_window_bits unless offered.
    ['permessage-deflate', { clientMaxWindowBits: 10 }, 'permessage-deflate'],
    ['permessage-deflate; client_max_window_bits', { clientMaxWindowBits: true }, 'permessage-deflate'],
  ];
  for (const [offer, options, expected] of table) {
    test(`${JSON.stringify(offer)} ${JSON.stringify(options)} -> ${JSON.stringify(expected)}`, async () => {
      assert.equal(serverResponse(offer, options), expected);
    });
  }

  test('negotiated params', async () => {
    const ext = negotiateServer(
      parseExtensionHeader(
        'permessage-deflate; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=11',
      ),
      {},
    );
    assert.ok(ext);
    assert.equal(ext.isServer, true);
    assert.deepEqual(ext.params, {
      serverNoContextTakeover: false,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 11,
    });
  });

  test('no offers, no extension', async () => {
    assert.equal(negotiateServer([], {}), null);
  });

  test('options out of range are a RangeError', async () => {
    assert.throws(() => negotiateServer([], { serverMaxWindowBits: 8 }), RangeError);
    assert.throws(() => negotiateServer([], { serverMaxWindowBits: 16 }), RangeError);
    assert.throws(() => negotiateServer([], { clientMaxWindowBits: 7 }), RangeError);
    assert.throws(() => negotiateServer([], { level: 10 }), RangeError);
    assert.throws(() => negotiateServer([], { memLevel: 0 }), RangeError);
    assert.throws(() => negotiateServer([], { threshold: -1 }), RangeError);
    assert.throws(() => negotiateServer([], { threshold: Number.NaN }), RangeError);
  });
});

describe('clientOffer', async () => {
  const table: Array<[PerMessageDeflateOptions, string]> = [
    // We reset our context after every message unless contextTakeover is on, and say so.
    [{}, 'permessage-deflate; client_no_context_takeover; client_max_window_bits'],
    [{ contextTakeover: true }, 'permessage-deflate; client_max_window_bits'],
    [{ clientNoContextTakeover: false }, 'permessage-deflate; client_max_window_bits'],
    [{ clientMaxWindowBits: false }, 'permessage-deflate; client_no_context_takeover'],
    [{ clientMaxWindowBits: 12 }, 'permessage-deflate; client_no_context_takeover; client_max_window_bits=12'],
    [{ serverMaxWindowBits: 8 }, 'permessage-deflate; client_no_context_takeover; server_max_window_bits=8; client_max_window_bits'],
    [
      { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 9 },
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9',
    ],
  ];
  for (const [options, expected] of table) {
    test(`${JSON.stringify(options)} -> ${expected}`, async () => {
      assert.equal(clientOffer(options), expected);
    });
  }

  test('options out of range are a RangeError', async () => {
    assert.throws(() => clientOffer({ serverMaxWindowBits: 7 }), RangeError);
    assert.throws(() => clientOffer({ clientMaxWindowBits: 16 }), RangeError);
  });
});

describe('acceptServerResponse', async () => {
  const accept = (response: string, options: PerMessageDeflateOptions = {}) =>
    acceptServerResponse(parseExtensionHeader(response), options);

  test('no permessage-deflate in the response', async () => {
    assert.equal(accept(''), null);
  });

  const accepted: Array<[string, PerMessageDeflateOptions, PerMessageDeflateParams]> = [
    ['permessage-deflate', {}, DEFAULTS],
    // A server MAY add server_no_context_takeover / client_no_context_takeover unasked.
    ['permessage-deflate; server_no_context_takeover', {}, { ...DEFAULTS, serverNoContextTakeover: true }],
    ['permessage-deflate; client_no_context_takeover', {}, { ...DEFAULTS, clientNoContextTakeover: true }],
    // ... and server_max_window_bits unasked.
    ['permessage-deflate; server_max_window_bits=9', {}, { ...DEFAULTS, serverMaxWindowBits: 9 }],
    ['permessage-deflate; server_max_window_bits=8', {}, { ...DEFAULTS, serverMaxWindowBits: 8 }],
    ['permessage-deflate; client_max_window_bits=10', {}, { ...DEFAULTS, clientMaxWindowBits: 10 }],
    ['permessage-deflate; client_max_window_bits=10', { clientMaxWindowBits: 12 }, { ...DEFAULTS, clientMaxWindowBits: 10 }],
    // Our own offered limit binds us even if the server does not repeat it (§7.1.2.2).
    ['permessage-deflate', { clientMaxWindowBits: 12 }, { ...DEFAULTS, clientMaxWindowBits: 12 }],
    // Our client_no_context_takeover hint binds us too.
    ['permessage-deflate', { clientNoContextTakeover: true }, { ...DEFAULTS, clientNoContextTakeover: true }],
    [
      'permessage-deflate; server_max_window_bits=10',
      { serverMaxWindowBits: 12 },
      { ...DEFAULTS, serverMaxWindowBits: 10 },
    ],
    [
      'permessage-deflate; server_no_context_takeover',
      { serverNoContextTakeover: true },
      { ...DEFAULTS, serverNoContextTakeover: true },
    ],
  ];
  for (const [response, options, params] of accepted) {
    test(`accepts ${JSON.stringify(response)} for ${JSON.stringify(options)}`, async () => {
      const ext = accept(response, options);
      assert.ok(ext);
      assert.equal(ext.isServer, false);
      assert.deepEqual(ext.params, params);
      assert.equal(ext.header, response);
    });
  }

  const rejected: Array<[string, PerMessageDeflateOptions]> = [
    ['foo', {}],
    ['permessage-deflate, foo', {}],
    ['permessage-deflate, permessage-deflate', {}],
    ['permessage-deflate; unknown', {}],
    ['permessage-deflate; server_no_context_takeover; server_no_context_takeover', {}],
    ['permessage-deflate; client_max_window_bits=10; client_max_window_bits=10', {}],
    ['permessage-deflate; server_no_context_takeover=1', {}],
    ['permessage-deflate; client_no_context_takeover=1', {}],
    ['permessage-deflate; server_max_window_bits', {}],
    ['permessage-deflate; server_max_window_bits=7', {}],
    ['permessage-deflate; server_max_window_bits=16', {}],
    ['permessage-deflate; server_max_window_bits=09', {}],
    // Above what we asked for (§7.1.2.1), or missing when we asked (acceptance means including it).
    ['permessage-deflate; server_max_window_bits=11', { serverMaxWindowBits: 10 }],
    ['permessage-deflate', { serverMaxWindowBits: 10 }],
    ['permessage-deflate', { serverNoContextTakeover: true }],
    // client_max_window_bits: only if offered (§7.1.2.2), with a value, not above ours.
    ['permessage-deflate; client_max_window_bits=10', { clientMaxWindowBits: false }],
    ['permessage-deflate; client_max_window_bits', {}],
    ['permessage-deflate; client_max_window_bits=13', { clientMaxWindowBits: 12 }],
    ['permessage-deflate; client_max_window_bits=16', {}],
    ['permessage-deflate; client_max_window_bits=7', {}],
  ];
  for (const [response, options] of rejected) {
    test(`rejects ${JSON.stringify(response)} for ${JSON.stringify(options)}`, async () => {
      assert.throws(
        () => accept(response, options),
        (err: unknown) => err instanceof HandshakeError && err.code === 'INVALID_EXTENSION_RESPONSE',
      );
    });
  }
});

describe('full negotiation and message exchange', async () => {
  // Offers in the style of Autobahn|Testsuite 12.x / 13.x, plus our own options.
  const clients: PerMessageDeflateOptions[] = [
    {},
    { clientMaxWindowBits: false },
    { clientNoContextTakeover: true },
    { serverNoContextTakeover: true },
    { serverNoContextTakeover: true, clientNoContextTakeover: true },
    ...[9, 10, 11, 12, 13, 14, 15].map((bits) => ({ serverMaxWindowBits: bits })),
    { serverMaxWindowBits: 9, clientMaxWindowBits: 9, serverNoContextTakeover: true },
    { clientMaxWindowBits: 8 },
    { contextTakeover: true },
    { contextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 11 },
  ];
  const servers: PerMessageDeflateOptions[] = [
    {},
    { contextTakeover: true },
    { serverMaxWindowBits: 10, clientMaxWindowBits: 9 },
    { serverNoContextTakeover: true, clientNoContextTakeover: true, contextTakeover: true },
  ];

  for (const clientOptions of clients) {
    for (const serverOptions of servers) {
      test(`client ${JSON.stringify(clientOptions)} / server ${JSON.stringify(serverOptions)}`, async () => {
        const server = negotiateServer(parseExtensionHeader(clientOffer(clientOptions)), { ...serverOptions, threshold: 0 });
        assert.ok(server, 'the server accepts');
        const client = acceptServerResponse(parseExtensionHeader(server.header), { ...clientOptions, threshold: 0 });
        assert.ok(client, 'the client accepts the response');
        assert.equal(client.header, server.header);
        // Both sides agree on the parameters that bind each sender.
        assert.equal(client.params.serverNoContextTakeover, server.params.serverNoContextTakeover);
        assert.equal(client.params.serverMaxWindowBits, server.params.serverMaxWindowBits);
        assert.ok(client.params.clientMaxWindowBits <= server.params.clientMaxWindowBits);
        if (server.params.clientNoContextTakeover) assert.equal(client.params.clientNoContextTakeover, true);

        for (let i = 0; i < 6; i++) {
          const down = text(500 + (i % 2), 1500 + i * 7000);
          const downPayload = await comp(server, down);
          assert.ok(downPayload, 'the server compresses');
          assert.deepEqual(await dec(client, downPayload, 1 << 20), down);

          const up = text(600 + (i % 2), 1500 + i * 7000);
          const upPayload = await comp(client, up);
          if (client.params.clientMaxWindowBits === 8) {
            assert.equal(upPayload, null, 'a client limited to 8 bits sends uncompressed');
          } else {
            assert.ok(upPayload, 'the client compresses');
            assert.deepEqual(await dec(server, upPayload, 1 << 20), up);
          }
        }
      });
    }
  }
});

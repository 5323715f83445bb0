/**
 * `wschat connect` as a script runs it: standard streams on pipes. What the
 * terminal client prints, what the room sees, and how it ends (issue 12):
 * piped input delivered in order and a clean exit, permanent failures
 * printed once with exit status 1, transient ones retried with one line
 * each, TLS trust (--ca, --insecure), and text from the network shown inert.
 * The same client in a real terminal: connect-pty.test.ts.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer, type Server } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ChatServer } from '../../src/chat/server.js';
import { startEchoServer } from '../../src/websocket/node/echo-server.js';
import { WebSocketServer } from '../../src/websocket/node/server.js';
import { JsonClient, startTestServer, within, wsUrl } from '../chat/support/clients.js';
import { selfSignedCertificate } from '../support/tls.js';
import { startConnect, stopTerminal, type TerminalProcess } from '../support/terminal-process.js';

const T = { timeout: 60_000 };

async function freePort(): Promise<number> {
  const probe: Server = createNetServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Runs the client to its end; returns the exit code. */
async function ended(p: TerminalProcess, timeoutMs = 30_000): Promise<number | null> {
  try {
    return (await within(p.exited, 'the client to exit', timeoutMs)).code;
  } catch (error) {
    throw new assert.AssertionError({ message: `${String(error)}\noutput:\n${p.text()}\nstderr:\n${p.errors()}` });
  } finally {
    await stopTerminal(p);
  }
}

function count(text: string, pattern: RegExp): number {
  return text.split('\n').filter((line) => pattern.test(line)).length;
}

describe('wschat connect, on pipes', () => {
  let server: ChatServer;
  let url: (room: string) => string;
  before(async () => {
    // The client paces itself by the limits the welcome advertises: a fast
    // rate keeps the 200-line test short.
    server = await startTestServer({ hub: { rateLimit: { burst: 20, perSecond: 100 } } });
    url = (room) => wsUrl(server, `/r/${room}`);
  });
  after(async () => {
    await server.close();
  });

  test('joins, shows history and live messages, sends lines and commands, exits 0 on /quit', T, async () => {
    const bob = await JsonClient.joined(url('term'), 'bob');
    await bob.say('before you came');
    const p = startConnect([url('term'), '--nick', '민수']);
    await p.waitFor(/^\d\d:\d\d <bob> before you came$/m, 'the history');
    await p.waitFor(/\[joined term as 민수\]/, 'the joined line');
    await bob.say('hi 민수');
    await p.waitFor(/<bob> hi 민수/, 'a live message');
    p.write('hello bob\n');
    const seen = await bob.expect('message', (m) => m.nick === '민수');
    assert.equal(seen.text, 'hello bob');
    p.write('/who\n');
    await p.waitFor(/2 members in term: .*bob/, '/who');
    p.write('/quit\n');
    assert.equal(await ended(p), 0);
    assert.match(p.text(), /\[left term\]\n$/);
    await bob.close();
  });

  test('(sleep; echo hi; sleep; echo /quit) | wschat connect: sent, then a clean exit 0 (issue 12)', T, async () => {
    const bob = await JsonClient.joined(url('piped-quit'), 'bob');
    const p = startConnect([url('piped-quit'), '--nick', 'piper']);
    await p.waitFor(/\[joined piped-quit as piper\]/, 'the join');
    p.write('hi\n');
    await bob.expect('message', (m) => m.nick === 'piper' && m.text === 'hi');
    p.write('/quit\n');
    p.end();
    assert.equal(await ended(p), 0);
    assert.doesNotMatch(p.errors(), /ended|Error|at /, 'no uncaught error');
    assert.equal((await bob.expect('notice', (n) => n.event === 'leave')).text, 'piper left');
    await bob.close();
  });

  test('200 piped lines arrive once each, in order, with no 1008; the end of input leaves once all are acknowledged', T, async () => {
    const watcher = await JsonClient.joined(url('piped-200'), 'watcher');
    const p = startConnect([url('piped-200'), '--nick', 'cat']);
    const lines = Array.from({ length: 200 }, (_, i) => `piped line ${i + 1}`);
    p.write(`${lines.join('\n')}\n`);
    p.end();
    assert.equal(await ended(p), 0);
    const seen = watcher.all('message').filter((m) => m.nick === 'cat');
    assert.deepEqual(
      seen.map((m) => m.text),
      lines,
    );
    const leave = await watcher.expect('notice', (n) => n.event === 'leave');
    assert.equal(leave.text, 'cat left', 'left with /quit, not for flooding');
    await watcher.close();
  });

  test('input that ends at once (< /dev/null): joins, shows the room, leaves, exit 0', T, async () => {
    const bob = await JsonClient.joined(url('devnull'), 'bob');
    await bob.say('are you there?');
    const p = startConnect([url('devnull'), '--nick', 'reader']);
    p.end();
    assert.equal(await ended(p), 0);
    assert.match(p.text(), /<bob> are you there\?/);
    assert.match(p.text(), /\[left devnull\]/);
    await bob.close();
  });

  test('a taken nickname with input still open asks for another', T, async () => {
    const carol = await JsonClient.joined(url('term2'), 'carol');
    const p = startConnect([url('term2'), '--nick', 'Carol']);
    await p.waitFor(/Choose another nickname/, 'the question');
    p.write('dave\n');
    await p.waitFor(/joined term2 as dave/, 'the join as dave');
    p.end();
    assert.equal(await ended(p), 0);
    await carol.close();
  });

  test('a taken nickname once input has ended: said once, exit 1', T, async () => {
    const carol = await JsonClient.joined(url('term3'), 'carol');
    const p = startConnect([url('term3'), '--nick', 'carol']);
    p.write('a line for nobody\n');
    p.end();
    assert.equal(await ended(p), 1);
    assert.match(p.errors(), /^wschat connect: The nickname carol is taken in this room\. Choose another with --nick\.\n$/);
    await carol.close();
  });

  test('a room name the server refuses: the server’s explanation, once, exit 1', T, async () => {
    const p = startConnect([wsUrl(server, '/r/bad%20room'), '--nick', 'a']);
    assert.equal(await ended(p), 1);
    assert.equal(
      p.errors(),
      'wschat connect: The server answered 404 instead of 101: WebSocket rooms are at /r/<room> (room names are 1-64 letters or digits (of any script), "-" or "_", with no spaces), or / for the lobby.\n',
    );
    assert.doesNotMatch(p.text(), /offline|retrying/i);
  });

  test('a forbidden origin or any other 4xx: permanent; a 503: retried', T, async () => {
    let status = 403;
    const http = createHttpServer((_, res) => {
      const body = status === 403 ? 'go away' : 'busy';
      res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': body.length }).end(body);
    });
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    const port = (http.address() as { port: number }).port;
    try {
      const refused = startConnect([`ws://127.0.0.1:${port}/`, '--nick', 'a']);
      assert.equal(await ended(refused), 1);
      assert.equal(refused.errors(), 'wschat connect: The server answered 403 instead of 101: go away.\n');
      status = 503;
      const busy = startConnect([`ws://127.0.0.1:${port}/`, '--nick', 'a']);
      await busy.waitFor(/\[offline\] The server answered 503 instead of 101: busy\. Retrying (now|in \d+ s)\./, 'a retry line');
      busy.child.kill('SIGTERM');
      assert.equal(await ended(busy), 0, 'SIGTERM while offline: a clean end');
    } finally {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  });

  test('a WebSocket server that does not speak wschat.v1: permanent, exit 1', T, async () => {
    const echo = await startEchoServer({ port: 0, host: '127.0.0.1' });
    try {
      const p = startConnect([`ws://127.0.0.1:${echo.address()!.port}/`, '--nick', 'a']);
      assert.equal(await ended(p), 1);
      assert.match(p.errors(), /^wschat connect: The server at .* does not speak wschat\.v1 \(it did not accept the subprotocol\): is it a wschat server\?\n$/);
    } finally {
      await echo.close();
    }
  });

  test('a closed port is transient: one line per retry, then it connects when the server comes', T, async () => {
    const port = await freePort();
    const p = startConnect([`ws://127.0.0.1:${port}/r/later`, '--nick', 'patient']);
    try {
      await p.waitFor(/\[offline\][^\n]*\n[^\n]*\[offline\]/, 'two retries');
      const late = await startTestServer({ port });
      try {
        await p.waitFor(/\[joined later as patient\]/, 'the join once the server is up', 40_000);
        const text = p.text();
        const retries = count(text, /^\[offline\] Nothing is listening on 127\.0\.0\.1:\d+ \(connection refused\)\. Retrying (now|in \d+ s)\.$/);
        assert.ok(retries >= 2, text);
        assert.equal(count(text, /^\[connecting/), 1, 'one line per retry, not two');
        assert.equal(count(text, /\S/), retries + 1 + count(text, /^(\d\d:\d\d|\[joined|\[you made this room)/), `nothing else printed:\n${text}`);
        p.end();
        assert.equal(await ended(p), 0);
      } finally {
        await late.close();
      }
    } finally {
      await stopTerminal(p);
    }
  });

  describe('TLS', () => {
    let tlsServer: ChatServer;
    let dir: string;
    let caFile: string;
    before(async () => {
      const { cert, key } = selfSignedCertificate();
      tlsServer = await startTestServer({ tls: { cert, key } });
      dir = mkdtempSync(join(tmpdir(), 'wschat-connect-'));
      caFile = join(dir, 'ca.pem');
      writeFileSync(caFile, cert);
      writeFileSync(join(dir, 'not-pem.txt'), 'hello');
    });
    after(async () => {
      await tlsServer.close();
      rmSync(dir, { recursive: true, force: true });
    });

    test('an untrusted certificate: the cause and how to trust it, once, exit 1', T, async () => {
      const p = startConnect([`wss://127.0.0.1:${tlsServer.port}/r/tls`, '--nick', 'a']);
      assert.equal(await ended(p), 1);
      assert.equal(
        p.errors(),
        `wschat connect: The certificate of 127.0.0.1:${tlsServer.port} is not trusted: self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT). Trust it with --ca FILE (its certificate or CA), or skip the check with --insecure.\n`,
      );
    });

    test('--ca FILE trusts it; --insecure skips the check, with a warning', T, async () => {
      for (const [flags, warning] of [
        [['--ca', caFile], false],
        [['--insecure'], true],
      ] as const) {
        const p = startConnect([`wss://localhost:${tlsServer.port}/r/tls`, '--nick', 'secure', ...flags]);
        await p.waitFor(/\[joined tls as secure\]/, `the join with ${flags.join(' ')}`);
        p.end();
        assert.equal(await ended(p), 0, flags.join(' '));
        assert.equal(/certificate is not checked/.test(p.errors()), warning, p.errors());
      }
    });

    test('wss:// to a server without TLS: a TLS error with its cause, exit 1', T, async () => {
      const p = startConnect([`wss://127.0.0.1:${server.port}/r/x`, '--nick', 'a']);
      assert.equal(await ended(p), 1);
      assert.match(p.errors(), /^wschat connect: The TLS handshake with 127\.0\.0\.1:\d+ failed: .*(wrong version number|packet length too long).*\n$/);
    });

    test('a --ca file that is not a certificate: named, exit 1', T, async () => {
      const p = startConnect([`wss://127.0.0.1:${tlsServer.port}/r/x`, '--nick', 'a', '--ca', join(dir, 'not-pem.txt')]);
      assert.equal(await ended(p), 1);
      assert.match(p.errors(), /^wschat connect: --ca .*not-pem\.txt is not a PEM certificate/);
    });
  });

  test('control and escape sequences from the network are shown inert', T, async () => {
    // A hostile server: the chat server would strip these; ours must not trust it to.
    const evil = new WebSocketServer({ port: 0, host: '127.0.0.1', selectProtocol: () => 'wschat.v1' });
    await evil.ready();
    evil.on('connection', (ws) => {
      ws.on('message', (data) => {
        const m = JSON.parse(String(data)) as { type: string; id?: string };
        const ts = Date.UTC(2026, 0, 1);
        if (m.type === 'join') {
          ws.send(
            JSON.stringify({
              type: 'welcome',
              room: 'evil\x1b]0;pwned\x07',
              nick: 'me',
              resumeToken: 'resume-token-0123456789',
              resumed: false,
              reset: false,
              members: [],
              history: [
                { type: 'message', seq: 1, ts, nick: 'mal\x1b[31mory', text: 'clear\x1b[2J\x1b[Hscreen\x9b31m\u202eevil\r\x7fend' },
                { type: 'message', seq: 2, ts, nick: 'bob', text: 'two\nlines' },
              ],
              lastSeq: 2,
              more: false,
              maxMessage: 4000,
            }),
          );
          ws.send(JSON.stringify({ type: 'info', text: 'info \x1bc reset' }));
        } else if (m.type === 'message' && (m as { text?: string }).text === '/quit') {
          ws.send(JSON.stringify({ type: 'ack', id: m.id }));
          ws.close(1000, 'bye \x1b[5m');
        } else if (m.type === 'message') {
          ws.send(JSON.stringify({ type: 'error', code: 'BAD_COMMAND', message: 'bad \x1b[?1049h alt screen', id: m.id }));
        }
      });
    });
    try {
      const p = startConnect([`ws://127.0.0.1:${(evil.address() as { port: number }).port}/`, '--nick', 'me']);
      await p.waitFor(/info \^\[c reset/, 'the info line');
      p.write('hello\n');
      await p.waitFor(/Not sent \(hello\)/, 'the refusal');
      p.write('/quit\n');
      assert.equal(await ended(p), 0);
      const all = p.output() + p.errors();
      // biome-ignore lint/suspicious/noControlCharactersInRegex: matching terminal control sequences is the point here
      assert.doesNotMatch(all, /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]/, 'no control character reaches the terminal');
      assert.match(all, /\[joined evil\^\[\]0;pwned\^G as me\]/);
      assert.match(all, /<mal\^\[\[31mory> clear\^\[\[2J\^\[\[Hscreen<U\+009B>31m<U\+202E>evil\^M\^\?end/);
      assert.match(all, /<bob> two\n +\| lines/, 'a multi-line message keeps its lines, marked as continuing it');
      assert.match(all, /Not sent \(hello\): Bad \^\[\[\?1049h alt screen\./);
    } finally {
      await evil.close();
    }
  });

  test('bad usage: exit 2 with the reason', T, async () => {
    const cases: Array<[string[], RegExp]> = [
      [['http://x', '--nick', 'a'], /the URL must start with ws:\/\/ or wss:\/\/, got http:\/\/x/],
      [['ws://x'], /--nick NAME is required/],
      [[], /give exactly one room URL/],
      [['ws://x', '--nick', 'a', '--insecure'], /--insecure only applies to wss:\/\/ URLs/],
      [['ws://x', '--nick', 'a', '--ca', 'f'], /--ca only applies to wss:\/\/ URLs/],
      [['wss://x', '--nick', 'a', '--ca', 'f', '--insecure'], /--ca and --insecure cannot be used together/],
      [['wss://x', '--nick', 'a', '--bogus'], /Unknown option '--bogus'/],
    ];
    await Promise.all(
      cases.map(async ([args, message]) => {
        const p = startConnect(args);
        assert.equal(await ended(p), 2, args.join(' '));
        assert.match(p.errors(), /^wschat connect: /);
        assert.match(p.errors(), message);
        assert.match(p.errors(), /Run "wschat connect --help" for the options\./);
      }),
    );
  });
});

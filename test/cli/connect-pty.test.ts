/**
 * `wschat connect` in a real pseudo-terminal, as a person uses it: readline
 * in raw mode, keys typed (Ctrl-C is byte 0x03, Ctrl-D 0x04, Enter CR), a
 * paste arriving in one write. Issue 12: Ctrl-C clears a half-typed line and
 * leaves on an empty one; the shell's prompt gets a line of its own after
 * /quit, Ctrl-C and Ctrl-D; a paste of 200 lines arrives whole and in order;
 * escape sequences from the network stay inert.
 *
 * The terminal comes from Debian's python3 `pty` module
 * (test/support/pty_run.py) rather than the node-pty addon: nothing to
 * compile in CI, and python3 is already a test peer. Without it the suite is
 * skipped with the reason printed, and fails when CI=true.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ChatServer } from '../../src/chat/server.js';
import { WebSocketServer } from '../../src/websocket/node/server.js';
import { JsonClient, startTestServer, within, wsUrl } from '../chat/support/clients.js';
import { assertPeer, findPythonPty, peerSkip } from '../support/peers.js';
import { startConnect, stopTerminal, type TerminalProcess } from '../support/terminal-process.js';

const T = { timeout: 60_000 };
const CTRL_C = '\x03';
const CTRL_D = '\x04';
const ENTER = '\r';

const pythonPty = findPythonPty();

async function ended(p: TerminalProcess): Promise<number | null> {
  try {
    return (await within(p.exited, 'the client to exit', 30_000)).code;
  } catch (error) {
    throw new assert.AssertionError({ message: `${String(error)}\nscreen:\n${p.text()}` });
  } finally {
    await stopTerminal(p);
  }
}

/**
 * The last line of the screen as a terminal would show it, and the cursor's
 * column: plays what came after the last line feed (text, CR, ESC[nG,
 * ESC[K, ESC[0J, ESC[nC/D, SGR) on one line.
 */
function lastLine(raw: string): { text: string; cursor: number } {
  const tail = raw.slice(raw.lastIndexOf('\n') + 1);
  const line: string[] = [];
  let cursor = 0;
  for (let i = 0; i < tail.length; i++) {
    const c = tail[i]!;
    if (c === '\r') {
      cursor = 0;
    } else if (c === '\x1b') {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: matching terminal control sequences is the point here
      const m = /^\x1b\[([0-9;?]*)([@-~])/.exec(tail.slice(i));
      assert.ok(m, `an escape the test does not know: ${JSON.stringify(tail.slice(i, i + 8))}`);
      const n = Number(m[1] || '0');
      if (m[2] === 'G') cursor = Math.max(0, (n || 1) - 1);
      else if (m[2] === 'K' || m[2] === 'J') line.length = Math.min(line.length, cursor);
      else if (m[2] === 'C') cursor += n || 1;
      else if (m[2] === 'D') cursor = Math.max(0, cursor - (n || 1));
      i += m[0].length - 1;
    } else {
      while (line.length < cursor) line.push(' ');
      line[cursor++] = c;
    }
  }
  return { text: line.join('').trimEnd(), cursor };
}

/** The shell's prompt will start on a line of its own: the last line is empty and the cursor at its start. */
function assertOwnLine(p: TerminalProcess): void {
  assert.deepEqual(lastLine(p.output()), { text: '', cursor: 0 }, JSON.stringify(p.output().slice(-80)));
}

describe('wschat connect in a terminal', { skip: peerSkip(pythonPty) }, () => {
  let server: ChatServer;
  let url: (room: string) => string;
  before(async () => {
    assertPeer(pythonPty);
    server = await startTestServer({ hub: { rateLimit: { burst: 20, perSecond: 100 } } });
    url = (room) => wsUrl(server, `/r/${room}`);
  });
  after(async () => {
    await server?.close();
  });

  /** A terminal client joined to `room` as `nick`, and a member watching. */
  async function joined(room: string, nick: string): Promise<{ p: TerminalProcess; watcher: JsonClient }> {
    const watcher = await JsonClient.joined(url(room), 'watcher');
    const p = startConnect([url(room), '--nick', nick], { pty: true });
    await p.waitFor(new RegExp(`\\[joined ${room} as ${nick}\\]`), 'the join');
    await p.waitFor(new RegExp(`${nick}> $`), 'the prompt');
    return { p, watcher };
  }

  test('a typed line is sent; /quit leaves, exit 0, the shell prompt on its own line', T, async () => {
    const { p, watcher } = await joined('pty-quit', 'alice');
    p.write(`hello from a terminal${ENTER}`);
    assert.equal((await watcher.expect('message', (m) => m.nick === 'alice')).text, 'hello from a terminal');
    p.write(`/quit${ENTER}`);
    assert.equal(await ended(p), 0);
    assert.equal((await watcher.expect('notice', (n) => n.event === 'leave')).text, 'alice left');
    assertOwnLine(p);
    await watcher.close();
  });

  test('Ctrl-C clears a half-typed line without sending it; Ctrl-C on the empty line leaves at once', T, async () => {
    const { p, watcher } = await joined('pty-ctrl-c', 'bob');
    p.write('half a thou');
    await p.waitFor(/bob> half a thou$/, 'the echo of the typing');
    p.write(CTRL_C);
    await p.waitFor(/bob> $/, 'the cleared prompt');
    assert.equal(p.child.exitCode, null, 'still running');
    p.write(`second${ENTER}`);
    assert.equal((await watcher.expect('message', (m) => m.nick === 'bob')).text, 'second', 'the cleared text went nowhere');
    p.write(CTRL_C);
    assert.equal(await ended(p), 0);
    assert.equal((await watcher.expect('notice', (n) => n.event === 'leave')).text, 'bob left', 'left at once, not "away"');
    assert.deepEqual(
      watcher.all('message').map((m) => m.text),
      ['second'],
    );
    assertOwnLine(p);
    await watcher.close();
  });

  test('Ctrl-D leaves once what was typed is delivered; exit 0, prompt on its own line', T, async () => {
    const { p, watcher } = await joined('pty-ctrl-d', 'carol');
    p.write(`last words${ENTER}`);
    p.write(CTRL_D);
    assert.equal(await ended(p), 0);
    assert.equal((await watcher.expect('message', (m) => m.nick === 'carol')).text, 'last words');
    assert.equal((await watcher.expect('notice', (n) => n.event === 'leave')).text, 'carol left');
    assertOwnLine(p);
    await watcher.close();
  });

  test('200 lines pasted at once arrive once each, in order, with no 1008', T, async () => {
    const { p, watcher } = await joined('pty-paste', 'dave');
    const lines = Array.from({ length: 200 }, (_, i) => `pasted line ${i + 1}`);
    // One write: the terminal receives the paste as a single burst of keys.
    p.write(`${lines.join(ENTER)}${ENTER}`);
    for (const line of lines) {
      const seen = await watcher.expect('message', (m) => m.nick === 'dave', 20_000);
      assert.equal(seen.text, line);
    }
    p.write(`/quit${ENTER}`);
    assert.equal(await ended(p), 0);
    assert.equal((await watcher.expect('notice', (n) => n.event === 'leave')).text, 'dave left', 'not "disconnected for flooding"');
    assert.equal(watcher.all('message').length, 200, 'nothing twice');
    await watcher.close();
  });

  test('escape sequences from the network reach the terminal inert', T, async () => {
    const evil = new WebSocketServer({ port: 0, host: '127.0.0.1', selectProtocol: () => 'wschat.v1' });
    await evil.ready();
    evil.on('connection', (ws) => {
      ws.on('message', (data) => {
        const m = JSON.parse(String(data)) as { type: string; id?: string; text?: string };
        if (m.type === 'join') {
          ws.send(
            JSON.stringify({
              type: 'welcome',
              room: 'r',
              nick: 'me',
              resumeToken: 'resume-token-0123456789',
              resumed: false,
              reset: false,
              members: [],
              history: [{ type: 'message', seq: 1, ts: 0, nick: 'x\x1b]2;title\x07', text: '\x1b[2J\x1b[3J\x1bc\x9b1;1H\u2067gotcha' }],
              lastSeq: 1,
              more: false,
              maxMessage: 4000,
            }),
          );
        } else if (m.type === 'message' && m.text === '/quit') {
          ws.send(JSON.stringify({ type: 'ack', id: m.id }));
          ws.close(1000, '');
        }
      });
    });
    try {
      const p = startConnect([`ws://127.0.0.1:${(evil.address() as { port: number }).port}/`, '--nick', 'me'], { pty: true });
      await p.waitFor(/gotcha/, 'the message');
      p.write(`/quit${ENTER}`);
      assert.equal(await ended(p), 0);
      const raw = p.output();
      assert.match(raw, /<x\^\[\]2;title\^G> \^\[\[2J\^\[\[3J\^\[c<U\+009B>1;1H<U\+2067>gotcha/);
      // Our own escapes are SGR (dim), erase and cursor moves; none of the server's.
      // biome-ignore lint/suspicious/noControlCharactersInRegex: matching terminal control sequences is the point here
      const escapes = new Set(raw.match(/\x1b(\[[0-9;?]*[ -/]*[@-~]|.)/g) ?? []);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: matching terminal control sequences is the point here
      for (const e of escapes) assert.match(e, /^\x1b\[(\d*[GKJ]|[02]?m|\d+[CD])$/, `unexpected escape ${JSON.stringify(e)}`);
      assert.doesNotMatch(raw, /[\x9b\u2067]/);
    } finally {
      await evil.close();
    }
  });
});

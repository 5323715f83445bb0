import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type EventSocket, fromEventSocket } from '../../src/client/socket.js';

/** A stand-in for the browser's WebSocket: the test fires its events. */
class FakeBrowserSocket implements EventSocket {
  protocol = '';
  sent: string[] = [];
  closes: [number | undefined, string | undefined][] = [];
  onopen: ((event: unknown) => unknown) | null = null;
  onmessage: ((event: { data: unknown }) => unknown) | null = null;
  onclose: ((event: { code: number; reason: string }) => unknown) | null = null;
  onerror: ((event: unknown) => unknown) | null = null;
  refuseCode = false;

  send(data: string): void {
    this.sent.push(data);
  }

  close(code?: number, reason?: string): void {
    if (this.refuseCode && code !== undefined && code !== 1000 && (code < 3000 || code > 4999)) {
      throw new Error('InvalidAccessError');
    }
    this.closes.push([code, reason]);
  }
}

function wrap() {
  const ws = new FakeBrowserSocket();
  const socket = fromEventSocket(ws, 'wschat.v1');
  const log: unknown[] = [];
  socket.onopen = () => log.push('open');
  socket.onmessage = (text) => log.push(['message', text]);
  socket.onclose = (code, reason) => log.push(['close', code, reason]);
  return { ws, socket, log };
}

test('passes open, text messages and close through', () => {
  const { ws, socket, log } = wrap();
  ws.protocol = 'wschat.v1';
  ws.onopen?.({});
  ws.onmessage?.({ data: '{"type":"ack","id":"a"}' });
  ws.onmessage?.({ data: new ArrayBuffer(2) }); // Binary: not passed on.
  socket.send('hello');
  ws.onerror?.({});
  ws.onclose?.({ code: 1001, reason: 'restart' });
  assert.deepEqual(log, ['open', ['message', '{"type":"ack","id":"a"}'], ['close', 1001, 'restart']]);
  assert.deepEqual(ws.sent, ['hello']);
  socket.send('after close');
  assert.deepEqual(ws.sent, ['hello'], 'nothing is sent once closed');
});

test('a server that did not select the subprotocol is refused', () => {
  const { ws, log } = wrap();
  ws.protocol = '';
  ws.onopen?.({});
  assert.deepEqual(log, [], 'no open event');
  assert.equal(ws.closes.length, 1);
  ws.onmessage?.({ data: 'plain text line' });
  ws.onclose?.({ code: 1000, reason: '' });
  assert.deepEqual(log, [['close', 1000, '']]);
});

test('close passes the code; a code the browser refuses falls back to a plain close', () => {
  const { ws, socket } = wrap();
  ws.refuseCode = true;
  socket.close(1000, 'bye');
  socket.close(1001);
  assert.deepEqual(ws.closes, [
    [1000, 'bye'],
    [undefined, undefined],
  ]);
});

test('send on a socket that throws (still connecting) does not throw', () => {
  const { ws, socket } = wrap();
  ws.send = () => {
    throw new Error('InvalidStateError');
  };
  assert.doesNotThrow(() => socket.send('x'));
});

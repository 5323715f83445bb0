/**
 * Heartbeats (RFC 6455 §5.5.2: a ping "may serve as a keepalive"): ping a
 * peer that has sent nothing for `interval` ms, and drop one that sends
 * nothing for `timeout` ms after that ping. One timer serves any number of
 * connections (the server's set, or a client's one), so memory per
 * connection stays two numbers; each tick is a pass over them.
 */
import type { WebSocket } from './connection.js';

export interface HeartbeatOptions {
  /** Ping a peer silent for this long, ms. */
  interval: number;
  /** Drop a peer still silent this long after the ping, ms. */
  timeout: number;
}

/**
 * Validates heartbeat options.
 * @throws RangeError unless interval and timeout are positive finite numbers.
 */
export function checkHeartbeat(options: HeartbeatOptions): void {
  for (const [name, value] of [
    ['interval', options.interval],
    ['timeout', options.timeout],
  ] as const) {
    if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`heartbeat ${name} must be a positive number of ms, got ${value}`);
  }
}

export class Heartbeat {
  readonly #timer: NodeJS.Timeout;

  /** Starts at once; `connections` is read at every tick. @throws RangeError for invalid options. */
  constructor(options: HeartbeatOptions, connections: () => Iterable<WebSocket>) {
    checkHeartbeat(options);
    const { interval, timeout } = options;
    const tick = Math.max(10, Math.min(interval, timeout) / 2);
    this.#timer = setInterval(() => {
      // Monotonic: a wall-clock step must not fire or postpone a heartbeat.
      const now = performance.now();
      for (const ws of connections()) {
        if (ws.readyState !== 1) continue;
        if (ws.pingSentAt !== 0) {
          if (ws.lastSeen < ws.pingSentAt && now - ws.pingSentAt >= timeout) ws.terminate();
          else if (ws.lastSeen >= ws.pingSentAt) ws.pingSentAt = 0;
        } else if (now - ws.lastSeen >= interval) {
          ws.pingSentAt = now;
          ws.ping();
        }
      }
    }, tick);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

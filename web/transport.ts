/**
 * The page's transports: the browser's WebSocket, and the server's HTTP door
 * (long-polling) when WebSockets do not get through this network, chosen for
 * each connection attempt by src/client/fallback.ts (the rule is written
 * there and in docs/protocol.md). Shows the transport in use next to the
 * connection status (#transport), and probes WebSocket again at once when
 * the browser says the network changed.
 */
import { TransportFallback, type TransportKind } from '../src/client/fallback.js';
import { httpSocketFactory } from '../src/client/http-socket.js';
import type { ChatSession } from '../src/client/session.js';
import { fromEventSocket, type SocketFactory } from '../src/client/socket.js';
import { show } from './dom.js';

const LABELS: Record<TransportKind, { text: string; title: string }> = {
  websocket: { text: 'WS', title: 'Connected over WebSocket.' },
  http: {
    text: 'HTTP',
    title: 'WebSockets do not get through this network, so the chat goes over plain HTTP requests. It switches back by itself when they do.',
  },
};

/** One per page: what it learns about the network outlives a session (a rejoin keeps it). */
export class BrowserTransport {
  readonly factory: SocketFactory;
  readonly #fallback: TransportFallback;

  /** `indicator`: the element that shows the transport (hidden until a connection works). */
  constructor(indicator: HTMLElement) {
    this.#fallback = new TransportFallback({
      websocket: (url, protocol) => fromEventSocket(new WebSocket(url, protocol), protocol),
      http: httpSocketFactory({ fetch: (url, init) => fetch(url, init) }),
    });
    this.factory = this.#fallback.factory;
    this.#fallback.on('transport', (kind) => {
      const label = LABELS[kind];
      indicator.dataset.transport = kind;
      indicator.textContent = label.text;
      indicator.title = label.title;
      indicator.setAttribute('aria-label', kind === 'http' ? 'over HTTP' : 'over WebSocket');
      show(indicator, true);
    });
    window.addEventListener('online', () => this.#fallback.probeNow());
  }

  /** The session using `factory` (a probe that succeeds makes it reconnect at once). */
  follow(session: ChatSession): void {
    this.#fallback.follow(session);
  }
}

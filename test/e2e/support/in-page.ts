/**
 * Small programs a test runs inside a page with page.evaluate: a seed-style
 * plain WebSocket client (no subprotocol, plain text both ways), and a probe
 * that the Content-Security-Policy blocks inline script.
 *
 * Like those of ./chat-tab.ts, these functions are serialised into the page:
 * self-contained, with no named inner functions (tsx would wrap them in a
 * `__name` helper the page does not have).
 */

// The DOM and WebSocket shapes used here (this tsconfig has no DOM lib).
interface PlainSocket {
  readonly protocol: string;
  readonly readyState: number;
  send(text: string): void;
  close(code?: number): void;
  onopen: (() => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onerror: (() => void) | null;
  onclose: ((event: { code: number }) => void) | null;
}
interface ScriptElement {
  textContent: string | null;
}
declare const WebSocket: new (url: string) => PlainSocket;
declare const document: {
  createElement(tag: 'script'): ScriptElement;
  head: { append(node: ScriptElement): void };
};

/** Where the plain client keeps its socket and what it received, on the page's global object. */
interface PlainState {
  wschatPlain?: { socket: PlainSocket; lines: string[] };
}

/**
 * In the page: opens a WebSocket without a subprotocol, as the seed documents'
 * pages do, and records every text message. Resolves with the negotiated
 * subprotocol ('' for none) once open.
 */
export function openPlainSocket(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    const state = { socket, lines: [] as string[] };
    (globalThis as PlainState).wschatPlain = state;
    socket.onmessage = (event) => {
      if (typeof event.data === 'string') state.lines.push(event.data);
    };
    socket.onopen = () => resolve(socket.protocol);
    socket.onerror = () => reject(new Error(`WebSocket to ${url} failed`));
  });
}

/** In the page: sends one text message on the plain socket. */
export function plainSend(text: string): void {
  const state = (globalThis as PlainState).wschatPlain;
  if (!state) throw new Error('no plain socket open');
  state.socket.send(text);
}

/** In the page: every text message the plain socket received so far. */
export function plainLines(): string[] {
  return (globalThis as PlainState).wschatPlain?.lines ?? [];
}

/** In the page: whether the plain socket received exactly `line`. */
export function plainReceived(line: string): boolean {
  return ((globalThis as PlainState).wschatPlain?.lines ?? []).includes(line);
}

/** In the page: closes the plain socket (1000). */
export function plainClose(): void {
  (globalThis as PlainState).wschatPlain?.socket.close(1000);
}

interface ProbeState {
  wschatInlineRan?: boolean;
}

/**
 * In the page: appends an inline script that would set a flag. Under the
 * server's CSP (`script-src 'self'`) it must not run; returns whether it did.
 */
export function inlineScriptRuns(): boolean {
  const script = document.createElement('script');
  script.textContent = 'globalThis.wschatInlineRan = true;';
  document.head.append(script);
  return (globalThis as ProbeState).wschatInlineRan === true;
}

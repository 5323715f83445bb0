/**
 * A reverse proxy that behaves like the networks the HTTP door is for: it
 * refuses WebSocket upgrades (403, as a corporate proxy does) while
 * `blockUpgrades` is set, and it buffers every response whole before
 * passing it on (as antivirus and filtering proxies do), so that only
 * answers that end get through. Upgrades, when allowed, are tunnelled as they
 * are. Loopback only; for tests.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';

export class UpgradeBlockingProxy {
  /** Refuse WebSocket upgrades (403). */
  blockUpgrades = true;
  /** Upgrades refused so far. */
  refused = 0;
  /** Upgrades tunnelled so far. */
  tunnelled = 0;
  /** HTTP requests forwarded so far. */
  forwarded = 0;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #port = 0;

  private constructor(readonly targetPort: number) {
    this.#server = createServer((req, res) => this.#forward(req, res));
    this.#server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.#upgrade(req, socket, head));
    this.#server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
  }

  /** Starts on an ephemeral loopback port in front of 127.0.0.1:`targetPort`. */
  static async start(targetPort: number): Promise<UpgradeBlockingProxy> {
    const proxy = new UpgradeBlockingProxy(targetPort);
    proxy.#server.listen(0, '127.0.0.1');
    await once(proxy.#server, 'listening');
    proxy.#port = (proxy.#server.address() as AddressInfo).port;
    return proxy;
  }

  get port(): number {
    return this.#port;
  }

  /** http://127.0.0.1:PORT */
  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #forward(req: IncomingMessage, res: ServerResponse): void {
    this.forwarded++;
    const upstream = request(
      { host: '127.0.0.1', port: this.targetPort, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        // Buffer the whole answer, then send it with its length: nothing reaches
        // the browser before the upstream response has ended.
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => {
          if (res.destroyed) return;
          const body = Buffer.concat(chunks);
          const headers = { ...answer.headers };
          delete headers['transfer-encoding'];
          delete headers.connection;
          headers['content-length'] = String(body.length);
          res.writeHead(answer.statusCode ?? 502, headers);
          res.end(body);
        });
        answer.on('error', () => res.destroy());
      },
    );
    upstream.on('error', () => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const body = 'Bad gateway: the chat server cannot be reached\n';
      res.writeHead(502, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    });
    // The browser gave up on the request (an aborted poll): so does the proxy.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  }

  #upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    if (this.blockUpgrades) {
      this.refused++;
      const body = 'WebSockets are not allowed on this network.\n';
      socket.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      return;
    }
    this.tunnelled++;
    const upstream = connect(this.targetPort, '127.0.0.1', () => {
      const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length > 0) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    this.#sockets.add(upstream);
    upstream.once('close', () => this.#sockets.delete(upstream));
    const fail = () => {
      upstream.destroy();
      socket.destroy();
    };
    upstream.on('error', fail);
    socket.on('error', fail);
    socket.on('close', () => upstream.destroy());
    upstream.on('close', () => socket.destroy());
  }
}

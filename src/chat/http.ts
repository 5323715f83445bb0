/**
 * The chat's plain HTTP side: the browser client's files, `/healthz`, and the
 * security headers every response carries. WebSocket upgrades are handled by
 * the transports; this file never sees them.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stripBasePath } from './base-path.js';
import { checkRoomName } from './room-name.js';

/** The bundled browser client: <package root>/dist/web, from src/chat or dist/chat alike. */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../dist/web/', import.meta.url));

/**
 * No inline script or style, nothing from other origins: user text can never
 * become code even if a rendering bug slipped through. The page may connect
 * to its own origin only ('self' covers ws: and wss: to the same host and
 * port, CSP Level 3 §6.7.2.8), plus the origins given (`--allowed-origin`),
 * so an injected script could not send the chat elsewhere.
 */
export function contentSecurityPolicy(connectOrigins: readonly string[] = []): string {
  const extra = connectOrigins.flatMap((origin) => {
    try {
      const url = new URL(origin);
      if (url.origin === 'null') return [];
      const socket = `${url.protocol === 'https:' ? 'wss:' : 'ws:'}//${url.host}`;
      return [url.origin, socket];
    } catch {
      return [];
    }
  });
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    ["connect-src 'self'", ...extra].join(' '),
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** The policy without configured origins. */
export const CONTENT_SECURITY_POLICY = contentSecurityPolicy();

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
};

export interface HttpHandlerOptions {
  webRoot?: string;
  /**
   * Extra health facts for /healthz (rooms, members). Without it /healthz
   * says only that the server is up: counts are nobody else's business.
   */
  health?: () => Record<string, unknown>;
  /**
   * Whether the server can serve chat now (its store reachable). When not,
   * /healthz answers 503 with the reason, so a load balancer drains the node.
   */
  ready?: () => { ok: true } | { ok: false; reason: string };
  /** Whether a Host header names this server (see host-check.ts); others get 421. Default: any. */
  hostAllowed?: (host: string | undefined) => boolean;
  /** Origins the page may connect to besides its own (`--allowed-origin`). */
  connectOrigins?: readonly string[];
  /** Serve under this prefix (normalised, see base-path.ts); default "" (the root). */
  basePath?: string;
  /** The server speaks HTTP/2 too (`--http2`): requests of version 2 are served, not refused with 505. */
  http2?: boolean;
  /**
   * The HTTP door (transports/http-door.ts), asked first about every request
   * inside the base path once the version and Host checks passed: it serves
   * its own paths and returns true, or returns false for every other path.
   */
  door?: (req: IncomingMessage, res: ServerResponse, pathname: string, url: URL) => boolean;
}

function securityHeaders(res: ServerResponse, policy: string): void {
  res.setHeader('Content-Security-Policy', policy);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** A request handler for node:http serving the web client and /healthz. */
export function createHttpHandler(options: HttpHandlerOptions = {}): (req: IncomingMessage, res: ServerResponse) => void {
  const root = path.resolve(options.webRoot ?? DEFAULT_WEB_ROOT);
  const cache = new Map<string, Buffer>();
  const policy = contentSecurityPolicy(options.connectOrigins);
  const hostAllowed = options.hostAllowed ?? (() => true);
  const base = options.basePath ?? '';

  /**
   * `page`: for index.html, a status other than 200 and a `<meta>` to add
   * (the page of a room name that is not valid says why, with a way back).
   */
  async function serveFile(res: ServerResponse, relative: string, head: boolean, page?: { status: number; meta: string }): Promise<void> {
    const file = path.resolve(root, relative);
    // Never serve anything outside the web root, whatever the URL says.
    if (!file.startsWith(root + path.sep)) return sendText(res, 404, 'Not found\n');
    let body = cache.get(file);
    if (!body) {
      try {
        body = await readFile(file);
      } catch {
        return sendText(res, 404, 'Not found\n');
      }
      if (base !== '' && relative === 'index.html') body = underBasePath(body, base);
      cache.set(file, body);
    }
    if (page !== undefined) body = withMeta(body, page.meta);
    const type = TYPES[path.extname(file)] ?? 'application/octet-stream';
    res.writeHead(page?.status ?? 200, {
      'Content-Type': type,
      'Content-Length': body.length,
      'Cache-Control': type.startsWith('text/html') ? 'no-cache' : 'public, max-age=300',
    });
    res.end(head ? undefined : body);
  }

  return (req, res) => {
    securityHeaders(res, policy);
    // RFC 9110 §15.6.6: 505 for a major version the server does not support.
    // Node's parser reads "HTTP/2.0" on this HTTP/1.1 port as a request; it
    // is not one (HTTP/2 starts with its connection preface).
    const versionServed = req.httpVersionMajor === 1 || (options.http2 === true && req.httpVersionMajor === 2);
    if (!versionServed) return sendText(res, 505, 'HTTP Version Not Supported: this port speaks HTTP/1.1\n');
    // HTTP/2 names the host in its :authority pseudo-header (RFC 9113 §8.3.1), which Node's compatibility layer leaves among the headers.
    const authority = req.headers[':authority'];
    if (!hostAllowed(req.headers.host ?? (typeof authority === 'string' ? authority : undefined))) {
      return sendText(res, 421, 'Misdirected Request: this server does not answer to that host name (see --allowed-host)\n');
    }
    const method = req.method ?? 'GET';
    let url: URL;
    let full: string;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
      full = decodeURIComponent(url.pathname);
    } catch {
      return sendText(res, 400, 'Bad request\n');
    }
    // The bare prefix is the chat's root: send browsers to it with its slash,
    // so that relative links resolve inside the prefix.
    if (base !== '' && full === base && (method === 'GET' || method === 'HEAD')) {
      res.writeHead(301, { Location: `${base}/${url.search}`, 'Content-Length': 0 });
      return void res.end();
    }
    // /healthz answers at the root too: a load balancer may check a node directly.
    const pathname = full === '/healthz' ? full : stripBasePath(full, base);
    if (pathname === null) return sendText(res, 404, `Not found: the chat is at ${base}/\n`);
    if (options.door?.(req, res, pathname, url)) return;
    if (method !== 'GET' && method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return sendText(res, 405, 'Method not allowed\n');
    }
    const head = method === 'HEAD';
    if (pathname === '/healthz') {
      const ready = options.ready?.() ?? { ok: true };
      const body = JSON.stringify(
        ready.ok ? { status: 'ok', ...options.health?.() } : { status: 'unavailable', reason: ready.reason, ...options.health?.() },
      );
      res.writeHead(ready.ok ? 200 : 503, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
      return void res.end(head ? undefined : body);
    }
    if (pathname === '/') return void serveFile(res, 'index.html', head);
    if (pathname.startsWith('/r/')) {
      const check = checkRoomName(pathname.slice(3));
      if (!check.ok) {
        // Still the page (404, for crawlers and tools): it says what is wrong
        // with the name and leads back, instead of a bare line of text.
        const meta = `<meta name="wschat-bad-room" content="${escapeAttribute(check.message)}">`;
        return void serveFile(res, 'index.html', head, { status: 404, meta });
      }
      return void serveFile(res, 'index.html', head);
    }
    if (pathname.startsWith('/assets/')) return void serveFile(res, pathname.slice(1), head);
    if (pathname === '/favicon.ico') return void serveFile(res, 'assets/favicon.svg', head);
    return sendText(res, 404, 'Not found\n');
  };
}

/** `&`, `<`, `>`, `"` and `'` as character references: text that is safe inside a double-quoted attribute. */
function escapeAttribute(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** index.html with one more element at the start of its head. */
function withMeta(html: Buffer, meta: string): Buffer {
  const text = html.toString('utf8');
  const head = /<head\b[^>]*>/i.exec(text) ?? /<!doctype html>/i.exec(text);
  const at = head === null ? 0 : head.index + head[0].length;
  return Buffer.from(`${text.slice(0, at)}${meta}${text.slice(at)}`, 'utf8');
}

/** index.html for a prefix: absolute links get it, and the page learns it from a meta element. */
function underBasePath(html: Buffer, base: string): Buffer {
  const meta = `<meta name="wschat-base" content="${base}">`;
  let text = html.toString('utf8').replace(/\b(href|src)="\//g, `$1="${base}/`);
  const head = /<head\b[^>]*>/i.exec(text) ?? /<!doctype html>/i.exec(text);
  const at = head === null ? 0 : head.index + head[0].length;
  text = `${text.slice(0, at)}${meta}${text.slice(at)}`;
  return Buffer.from(text, 'utf8');
}

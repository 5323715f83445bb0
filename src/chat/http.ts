/**
 * The chat's plain HTTP side: the browser client's files, `/healthz`, and the
 * security headers every response carries. WebSocket upgrades are handled by
 * the transports; this file never sees them.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isValidRoomName } from './room-name.js';

/** The bundled browser client: <package root>/dist/web, from src/chat or dist/chat alike. */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../dist/web/', import.meta.url));

/**
 * No inline script or style, nothing from other origins: user text can never
 * become code even if a rendering bug slipped through.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self' ws: wss:",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

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
  /** Extra health facts for /healthz (rooms, members). */
  health?: () => Record<string, unknown>;
  /**
   * Whether the server can serve chat now (its store reachable). When not,
   * /healthz answers 503 with the reason, so a load balancer drains the node.
   */
  ready?: () => { ok: true } | { ok: false; reason: string };
}

function securityHeaders(res: ServerResponse): void {
  res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
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

  async function serveFile(res: ServerResponse, relative: string, head: boolean): Promise<void> {
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
      cache.set(file, body);
    }
    const type = TYPES[path.extname(file)] ?? 'application/octet-stream';
    res.writeHead(200, {
      'Content-Type': type,
      'Content-Length': body.length,
      'Cache-Control': type.startsWith('text/html') ? 'no-cache' : 'public, max-age=300',
    });
    res.end(head ? undefined : body);
  }

  return (req, res) => {
    securityHeaders(res);
    const method = req.method ?? 'GET';
    let pathname: string;
    try {
      pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    } catch {
      return sendText(res, 400, 'Bad request\n');
    }
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
      const room = pathname.slice(3);
      if (!isValidRoomName(room)) {
        return sendText(res, 404, 'Room names are 1-64 characters of A-Z, a-z, 0-9, "_" and "-".\n');
      }
      return void serveFile(res, 'index.html', head);
    }
    if (pathname.startsWith('/assets/')) return void serveFile(res, pathname.slice(1), head);
    if (pathname === '/favicon.ico') return void serveFile(res, 'assets/favicon.svg', head);
    return sendText(res, 404, 'Not found\n');
  };
}

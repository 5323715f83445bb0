/**
 * The chat server's plain HTTP side, over a real socket: the web client's
 * files from a temporary web root (tests don't depend on `npm run build`),
 * /healthz, security headers, methods, and paths that try to escape.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CONTENT_SECURITY_POLICY, contentSecurityPolicy, DEFAULT_WEB_ROOT } from '../../src/chat/http.js';
import type { ChatServer } from '../../src/chat/server.js';
import { JsonClient, startTestServer } from './support/clients.js';

const INDEX = '<!doctype html><title>wschat test page</title><script src="/assets/app.js"></script>';
const APP = 'console.log("app");';

let dir: string;
let server: ChatServer;

interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A request with the path sent exactly as given (no URL normalisation on the way). */
function send(method: string, target: string): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, method, path: target }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
const get = (target: string): Promise<Response> => send('GET', target);

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'wschat-http-'));
  const web = path.join(dir, 'web');
  mkdirSync(path.join(web, 'assets'), { recursive: true });
  writeFileSync(path.join(web, 'index.html'), INDEX);
  writeFileSync(path.join(web, 'assets', 'app.js'), APP);
  writeFileSync(path.join(web, 'assets', 'styles.css'), 'body{margin:0}');
  writeFileSync(path.join(web, 'assets', 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  // Files next to the web root that no URL may reach.
  writeFileSync(path.join(dir, 'secret.txt'), 'top secret');
  mkdirSync(path.join(dir, 'web-evil'));
  writeFileSync(path.join(dir, 'web-evil', 'x.js'), 'evil');
  server = await startTestServer({ webRoot: web });
});
after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the web client', () => {
  test('/ and /r/<room> serve index.html, not cached stale', async () => {
    for (const target of ['/', '/r/k3Fq9ZpL0xW2aB7c', '/r/my_room-1', '/r/a?ref=link']) {
      const res = await get(target);
      assert.equal(res.status, 200, target);
      assert.equal(res.body, INDEX);
      assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
      assert.equal(res.headers['cache-control'], 'no-cache');
    }
  });

  test('/assets/... with their content types; the favicon', async () => {
    const js = await get('/assets/app.js');
    assert.deepEqual([js.status, js.body, js.headers['content-type']], [200, APP, 'text/javascript; charset=utf-8']);
    assert.equal(js.headers['content-length'], String(APP.length));
    assert.equal((await get('/assets/styles.css')).headers['content-type'], 'text/css; charset=utf-8');
    const icon = await get('/favicon.ico');
    assert.deepEqual([icon.status, icon.headers['content-type']], [200, 'image/svg+xml']);
  });

  test('unknown paths are 404', async () => {
    for (const target of ['/nope', '/index.html', '/assets/missing.js', '/assets/', '/r/a/b']) {
      assert.equal((await get(target)).status, 404, target);
    }
  });

  test('rooms named in any script (percent-encoded UTF-8) get the page', async () => {
    for (const name of ['우리방', 'café', '東京2025', 'проект']) {
      const res = await get(`/r/${encodeURIComponent(name)}`);
      assert.deepEqual([res.status, res.body], [200, INDEX], name);
    }
  });

  test('an invalid room name gets the page with a 404 and the reason in a meta element (escaped), not a bare text', async () => {
    const cases: [string, RegExp][] = [
      ['/r/bad%20name', /U\+0020 \(a space\) is not allowed/],
      ['/r/', /cannot be empty/],
      [`/r/${'a'.repeat(65)}`, /65 characters/],
      ['/r/x%7By%7D', /“\{” is not allowed/],
      ['/r/a%22%3E%3Cscript%3E', /“&#34;” is not allowed/],
    ];
    for (const [target, reason] of cases) {
      const res = await get(target);
      assert.equal(res.status, 404, target);
      assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
      const meta = /^<!doctype html><meta name="wschat-bad-room" content="([^"]*)">/.exec(res.body);
      assert.ok(meta, `${target}: ${res.body}`);
      assert.match(meta[1] ?? '', reason, target);
      assert.ok(res.body.endsWith(INDEX.slice('<!doctype html>'.length)), target);
      assert.ok(!res.body.includes('<script>'), 'markup in the name stays text');
    }
  });

  test('paths that climb out of the web root are 404, however they are spelled', async () => {
    for (const target of [
      '/assets/../../secret.txt',
      '/assets/../../../../../../etc/passwd',
      '/assets/..%2F..%2Fsecret.txt',
      '/assets/%2e%2e/%2e%2e/secret.txt',
      '/assets/%2E%2E%2F%2E%2E%2Fsecret.txt',
      '/assets/..%5C..%5Csecret.txt',
      '/assets/../../web-evil/x.js',
      '/assets/..%2F..%2Fweb-evil%2Fx.js',
      '/assets/%252e%252e/%252e%252e/secret.txt',
      '/assets/app.js%00.html',
      '/assets/../../package.json',
      '/assets/..%2F..%2F..%2Fpackage.json',
    ]) {
      const res = await get(target);
      assert.equal(res.status, 404, target);
      assert.ok(!res.body.includes('secret') && !res.body.includes('evil') && !res.body.includes('"name"'), target);
    }
  });

  test('a malformed percent-encoding is a 400, not a crash', async () => {
    assert.equal((await get('/assets/%E0%A4%A')).status, 400);
    assert.equal((await get('/')).status, 200);
  });

  test('the default web root is the built bundle in dist/web', () => {
    assert.ok(DEFAULT_WEB_ROOT.endsWith(`${path.sep}dist${path.sep}web${path.sep}`), DEFAULT_WEB_ROOT);
  });
});

describe('under a base path (--base-path /chat)', () => {
  let prefixed: ChatServer;
  before(async () => {
    prefixed = await startTestServer({ webRoot: path.join(dir, 'web'), basePath: 'chat/' });
  });
  after(async () => {
    await prefixed.close();
  });
  const at = (target: string): Promise<Response> =>
    new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: prefixed.port, path: target }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      });
      req.on('error', reject);
      req.end();
    });

  test('the page and its assets are under the prefix; the page says so and links inside it', async () => {
    assert.equal(prefixed.url, `http://127.0.0.1:${prefixed.port}/chat`);
    for (const target of ['/chat/', '/chat/r/team']) {
      const page = await at(target);
      assert.equal(page.status, 200, target);
      assert.match(page.body, /<meta name="wschat-base" content="\/chat">/);
      assert.match(page.body, /src="\/chat\/assets\/app\.js"/);
      assert.doesNotMatch(page.body, /(href|src)="\/(?!chat\/)/, 'no link outside the prefix');
    }
    assert.equal((await at('/chat/assets/app.js')).body, APP);
    const bare = await at('/chat?x=1');
    assert.equal(bare.status, 301);
    assert.equal(bare.headers.location, '/chat/?x=1');
  });

  test('outside the prefix: 404 saying where the chat is; /healthz answers at both', async () => {
    for (const target of ['/', '/r/team', '/assets/app.js', '/chatroom/', '/other/chat/']) {
      const res = await at(target);
      assert.equal(res.status, 404, target);
      assert.match(res.body, /the chat is at \/chat\//);
    }
    assert.equal((await at('/healthz')).status, 200);
    assert.equal((await at('/chat/healthz')).status, 200);
  });

  test('WebSocket rooms are under the prefix too', async () => {
    const client = await JsonClient.open(`ws://127.0.0.1:${prefixed.port}/chat/r/team`);
    assert.equal((await client.join('alice')).room, 'team');
    await client.close();
    await assert.rejects(JsonClient.open(`ws://127.0.0.1:${prefixed.port}/r/team`), /404/);
  });
});

describe('headers and methods', () => {
  test('every response carries a Content-Security-Policy without inline script, and other safety headers', async () => {
    for (const target of ['/', '/assets/app.js', '/healthz', '/nope']) {
      const res = await get(target);
      const csp = String(res.headers['content-security-policy']);
      assert.equal(csp, CONTENT_SECURITY_POLICY, target);
      assert.ok(!csp.includes('unsafe-inline'), 'no unsafe-inline');
      assert.ok(!csp.includes('unsafe-eval'), 'no unsafe-eval');
      assert.match(csp, /script-src 'self'(;|$)/);
      assert.match(csp, /default-src 'self'/);
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
      assert.equal(res.headers['x-frame-options'], 'DENY');
    }
  });

  test('CSP: connect-src is the page\'s own origin, plus configured origins only', () => {
    assert.match(CONTENT_SECURITY_POLICY, /(^|; )connect-src 'self'(;|$)/);
    assert.doesNotMatch(CONTENT_SECURITY_POLICY, /ws:(?!\/\/)|wss:(?!\/\/)/, 'no scheme-wide ws: or wss: source');
    assert.match(
      contentSecurityPolicy(['https://chat.example', 'http://other.example:8080', 'nonsense']),
      /connect-src 'self' https:\/\/chat\.example wss:\/\/chat\.example http:\/\/other\.example:8080 ws:\/\/other\.example:8080;/,
    );
  });

  test('/healthz says only "ok" (no counts for strangers), never cached', async () => {
    const res = await get('/healthz');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.deepEqual(JSON.parse(res.body), { status: 'ok' });
  });

  test('HEAD answers the headers of GET without a body', async () => {
    const head = await send('HEAD', '/assets/app.js');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal(head.headers['content-length'], String(APP.length));
    assert.equal((await send('HEAD', '/healthz')).status, 200);
    assert.equal((await send('HEAD', '/nope')).status, 404);
  });

  test('other methods get 405 with Allow', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
      const res = await send(method, '/');
      assert.equal(res.status, 405, method);
      assert.equal(res.headers.allow, 'GET, HEAD');
    }
    assert.equal((await send('POST', '/healthz')).status, 405);
  });
});

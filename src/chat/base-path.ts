/**
 * Serving the chat under a path prefix (`--base-path /chat`), as a reverse
 * proxy does when the chat shares a host with other sites
 * (`location /chat/ { proxy_pass ...; }` in nginx, the path passed on as is).
 * Every URL the server answers and every URL the web client makes starts
 * with the prefix.
 */

/**
 * "" for the root, else the prefix with a leading slash and no trailing one
 * ("chat/", "/chat", "/chat/" all give "/chat").
 * @throws TypeError for a prefix a URL path cannot carry as is (characters
 *   outside A-Za-z0-9 and `-._~`, empty segments, "." or "..").
 */
export function normalizeBasePath(raw: string | undefined): string {
  if (raw === undefined) return '';
  const trimmed = raw.trim().replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return '';
  const segments = trimmed.split('/');
  for (const segment of segments) {
    if (!/^[A-Za-z0-9._~-]+$/.test(segment) || segment === '.' || segment === '..') {
      throw new TypeError(`the base path must be like /chat or /apps/chat (letters, digits, "-", ".", "_", "~"), got ${JSON.stringify(raw)}`);
    }
  }
  return `/${segments.join('/')}`;
}

/**
 * The path inside the chat (starting with "/"), or null when `pathname` is
 * outside the prefix. The prefix itself, without its slash, is the root.
 */
export function stripBasePath(pathname: string, basePath: string): string | null {
  if (basePath === '') return pathname;
  if (pathname === basePath) return '/';
  if (pathname.startsWith(`${basePath}/`)) return pathname.slice(basePath.length);
  return null;
}

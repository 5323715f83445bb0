/**
 * Which Host and Origin the chat server answers to: the defence against
 * DNS rebinding and cross-site WebSocket hijacking.
 *
 * DNS rebinding: a page on evil.example makes its own name resolve to the
 * chat's address; the browser then sends `Host: evil.example:PORT` and
 * `Origin: http://evil.example:PORT`, which look "same-origin". So the Host
 * must be one of the names the server answers to. IP literals are always
 * accepted: a name can be rebound, an address cannot (a page whose origin is
 * an address is served by that address). Everything else gets 421
 * Misdirected Request (RFC 9110 §15.5.20: the request was sent to a server
 * that is not configured to answer for that name).
 */
import { isIP } from 'node:net';
import { hostname as osHostname } from 'node:os';

/** A parsed Host header or `--allowed-host` value: a lower-case name or address, and the port if one was given. */
export interface HostName {
  name: string;
  port: number | null;
}

/**
 * Parses "name", "name:port", "1.2.3.4:80", "[::1]:8080" (RFC 9110 §7.2:
 * Host = uri-host [ ":" port ]). A trailing dot of a DNS name is dropped.
 * Returns null for anything else.
 */
export function parseHost(value: string): HostName | null {
  const text = value.trim().toLowerCase();
  let name: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close === -1) return null;
    name = text.slice(1, close);
    if (isIP(name) !== 6) return null;
    const rest = text.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) return null;
    portText = rest === '' ? undefined : rest.slice(1);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon !== text.indexOf(':')) return isIP(text) === 6 ? { name: text, port: null } : null;
    name = colon === -1 ? text : text.slice(0, colon);
    portText = colon === -1 ? undefined : text.slice(colon + 1);
    if (name.endsWith('.')) name = name.slice(0, -1);
    if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(name)) return null;
  }
  if (portText === undefined) return { name, port: null };
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) return null;
  return { name, port: Number(portText) };
}

export interface AllowedHostsOptions {
  /** The address the server listens on (`--host`); a DNS name there is one it answers to. */
  listenHost?: string;
  /** `--allowed-host` values: "name" (any port) or "name:port". */
  allowedHosts?: readonly string[];
  /** `--allowed-origin` values: their host names are names the server answers to (behind a proxy). */
  allowedOrigins?: readonly string[];
  /** Whether to add this machine's host name. Default true. */
  includeMachineName?: boolean;
}

/**
 * The names the server answers to: localhost (and *.localhost, RFC 6761
 * §6.3), every IP literal, the machine's host name, the `--host` name, the
 * hosts of `--allowed-origin`, and `--allowed-host`.
 * @throws TypeError for an `--allowed-host` value that is not a host name.
 */
export function allowedHosts(options: AllowedHostsOptions = {}): (hostHeader: string | undefined) => boolean {
  const entries: HostName[] = [{ name: 'localhost', port: null }];
  if (options.includeMachineName !== false) {
    const machine = parseHost(osHostname());
    if (machine !== null) entries.push({ name: machine.name, port: null });
  }
  const listen = options.listenHost === undefined ? null : parseHost(options.listenHost);
  if (listen !== null) entries.push({ name: listen.name, port: null });
  for (const origin of options.allowedOrigins ?? []) {
    try {
      const parsed = parseHost(new URL(origin).host);
      if (parsed !== null) entries.push({ name: parsed.name, port: null });
    } catch {
      // Not a URL: it can never match an Origin either.
    }
  }
  for (const value of options.allowedHosts ?? []) {
    const parsed = parseHost(value);
    if (parsed === null) throw new TypeError(`--allowed-host ${JSON.stringify(value)} is not a host name`);
    entries.push(parsed);
  }
  return (hostHeader) => {
    // HTTP/1.1 requires Host (Node's server answers 400 without it); a
    // request without it comes from no browser, so there is nothing to rebind.
    if (hostHeader === undefined) return true;
    const host = parseHost(hostHeader);
    if (host === null) return false;
    if (isIP(host.name) !== 0 || host.name === 'localhost' || host.name.endsWith('.localhost')) return true;
    return entries.some((entry) => entry.name === host.name && (entry.port === null || entry.port === host.port));
  };
}

/**
 * Browsers send Origin; a page from another site must not be able to talk to
 * the chat in its visitors' name. Allowed: no Origin (the terminal client,
 * scripts: not browsers), the same origin as the request (scheme http, or
 * https when the server has TLS, with the Host's name and port, RFC 6454
 * §5), and the configured origins, compared serialised (scheme, host and
 * port).
 */
export function originAllowed(origin: string | undefined, host: string, allowed: readonly string[], secure = false): boolean {
  if (origin === undefined) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  // An opaque origin ("null", file:) is never anyone's.
  if (url.origin === 'null') return false;
  if (allowed.some((a) => serialisedOrigin(a) === url.origin)) return true;
  const scheme = secure ? 'https:' : 'http:';
  if (url.protocol !== scheme) return false;
  const own = serialisedOrigin(`${scheme}//${host}`);
  return own !== null && own === url.origin;
}

function serialisedOrigin(text: string): string | null {
  try {
    const origin = new URL(text).origin;
    return origin === 'null' ? null : origin;
  } catch {
    return null;
  }
}

/**
 * Client addresses as the per-address limits and bans see them: an IPv4
 * address is one client (/32); an IPv6 client is its /64, because one
 * subscriber gets a whole /64 (RFC 6177 §2, RFC 7421) and can pick any
 * address in it at will.
 *
 * Behind a reverse proxy every connection comes from the proxy: with
 * `--trust-proxy ADDR` the client address is read from `X-Forwarded-For`,
 * but only when the connection comes from a trusted proxy, and only as far
 * as the chain of trusted proxies goes (the right-most address that a
 * trusted proxy appended; anything further left was written by the client
 * and proves nothing).
 */
import { BlockList, isIP } from 'node:net';

/**
 * The address with an IPv4-mapped IPv6 address (RFC 4291 §2.5.5.2,
 * "::ffff:203.0.113.9", how a dual-stack socket shows IPv4 peers) written as
 * IPv4, and an IPv6 zone ("%eth0") dropped. Unchanged when not an IP.
 */
export function plainAddress(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped) return mapped[1]!;
  const zone = address.indexOf('%');
  return zone === -1 ? address : address.slice(0, zone);
}

/** The eight 16-bit groups of an IPv6 address, or null when it is not one. */
function ipv6Groups(address: string): number[] | null {
  if (isIP(address) !== 6) return null;
  let text = address.toLowerCase();
  // A trailing dotted quad (::ffff:1.2.3.4, 64:ff9b::1.2.3.4) is two groups.
  const quad = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? (text.split('::') as [string, string]) : [text, null];
  const left = head === '' ? [] : head.split(':');
  const right = tail === null || tail === '' ? [] : tail.split(':');
  const missing = 8 - left.length - right.length;
  if (tail === null ? missing !== 0 : missing < 1) return null;
  return [...left, ...Array<string>(tail === null ? 0 : missing).fill('0'), ...right].map((g) => Number.parseInt(g, 16));
}

/**
 * The key limits and bans use for a client address: "203.0.113.9" for IPv4,
 * "2001:db8:a:b::/64" for IPv6 (its /64). Anything else is returned as is.
 */
export function addressKey(address: string): string {
  const plain = plainAddress(address);
  if (isIP(plain) !== 6) return plain;
  const groups = ipv6Groups(plain);
  if (groups === null) return plain;
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/**
 * The proxies trusted to say who their client is (`--trust-proxy`): IP
 * addresses or CIDR ranges ("127.0.0.1", "10.0.0.0/8", "fd00::/8").
 */
export class TrustedProxies {
  readonly #list = new BlockList();
  readonly #empty: boolean;

  /** @throws TypeError naming the entry that is neither an IP address nor a CIDR range. */
  constructor(entries: readonly string[]) {
    this.#empty = entries.length === 0;
    for (const entry of entries) {
      const [ip, prefix, ...rest] = entry.trim().split('/');
      const family = isIP(plainAddress(ip ?? ''));
      const bits = prefix === undefined ? null : Number(prefix);
      const max = family === 4 ? 32 : 128;
      if (family === 0 || rest.length > 0 || (bits !== null && (!/^\d{1,3}$/.test(prefix ?? '') || bits > max))) {
        throw new TypeError(`--trust-proxy takes an IP address or a CIDR range (e.g. 10.0.0.0/8), got "${entry}"`);
      }
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (bits === null) this.#list.addAddress(plainAddress(ip!), type);
      else this.#list.addSubnet(plainAddress(ip!), bits, type);
    }
  }

  /** Whether a connection from `address` is from a trusted proxy. */
  trusts(address: string): boolean {
    if (this.#empty) return false;
    const plain = plainAddress(address);
    const family = isIP(plain);
    if (family === 0) return false;
    return this.#list.check(plain, family === 4 ? 'ipv4' : 'ipv6');
  }
}

/** One X-Forwarded-For element as an address: "203.0.113.9", "[2001:db8::1]:443", "203.0.113.9:5000"; null if not one. */
function forwardedAddress(element: string): string | null {
  let text = element.trim();
  const bracket = /^\[([^\]]+)\](?::\d+)?$/.exec(text);
  if (bracket) text = bracket[1]!;
  else if (/^\d{1,3}(?:\.\d{1,3}){3}:\d+$/.test(text)) text = text.slice(0, text.lastIndexOf(':'));
  return isIP(plainAddress(text)) === 0 ? null : plainAddress(text);
}

/**
 * The client's address (not yet a key): the peer's, unless the peer is a
 * trusted proxy, in which case X-Forwarded-For is read from the right,
 * through trusted proxies only. A missing or unreadable header leaves the
 * proxy's own address.
 */
export function clientAddress(peer: string, forwardedFor: string | string[] | undefined, trusted: TrustedProxies): string {
  let client = plainAddress(peer);
  if (!trusted.trusts(client) || forwardedFor === undefined) return client;
  const elements = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
  for (let i = elements.length - 1; i >= 0 && trusted.trusts(client); i--) {
    const next = forwardedAddress(elements[i]!);
    if (next === null) break;
    client = next;
  }
  return client;
}

/**
 * The `Sec-WebSocket-Extensions` header grammar (RFC 6455 §9.1), shared by
 * every extension. Only the syntax lives here; what a parameter means is the
 * business of the extension that owns it (see permessage-deflate.ts).
 *
 *   extension-list  = 1#extension
 *   extension       = extension-token *( ";" extension-param )
 *   extension-param = token [ "=" (token | quoted-string) ]
 *
 * `#` is the HTTP list rule (RFC 7230 §7): elements are separated by commas
 * with optional whitespace, and empty elements are accepted and ignored.
 * RFC 6455 §9.1 inherits RFC 2616's "implied *LWS", so whitespace is also
 * allowed around ";" and "=".
 */

import { HandshakeError } from './errors.js';
import { isTchar, isToken } from './http.js';

/**
 * One element of an extension list: an offer (in a request) or an
 * acceptance (in a response). Names are lowercased (tokens are compared
 * case-insensitively); parameters keep their order so that duplicates can
 * be detected by the extension; a parameter without a value has `true`.
 */
export interface ExtensionOffer {
  name: string;
  params: Array<[string, string | true]>;
}

function invalid(reason: string): HandshakeError {
  return new HandshakeError('INVALID_EXTENSION_HEADER', 400, `invalid Sec-WebSocket-Extensions header: ${reason}`);
}

/**
 * Parses a `Sec-WebSocket-Extensions` value. Several header lines may be
 * passed as an array; they are joined with ", " first, which is what
 * RFC 7230 §3.2.2 says repeated list headers mean. An empty value gives [].
 *
 * @throws HandshakeError `INVALID_EXTENSION_HEADER` (status 400) when the
 *   value does not match the grammar above, or a quoted value is not a
 *   token once unquoted (RFC 6455 §9.1).
 */
export function parseExtensionHeader(value: string | readonly string[]): ExtensionOffer[] {
  const s = typeof value === 'string' ? value : value.join(', ');
  const n = s.length;
  let i = 0;

  const skipOws = (): void => {
    // RFC 7230 §3.2.3: OWS = *( SP / HTAB )
    while (i < n && (s[i] === ' ' || s[i] === '\t')) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < n && isTchar(s.charCodeAt(i))) i++;
    return s.slice(start, i);
  };
  const readQuoted = (): string => {
    // RFC 7230 §3.2.6: quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE
    i++; // opening DQUOTE
    let out = '';
    for (;;) {
      if (i >= n) throw invalid('unterminated quoted-string');
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        i++;
        break;
      }
      if (c === 0x5c) {
        // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
        const next = s.charCodeAt(i + 1);
        if (!(next === 0x09 || (next >= 0x20 && next <= 0xff && next !== 0x7f))) {
          throw invalid('bad quoted-pair');
        }
        out += s[i + 1];
        i += 2;
        continue;
      }
      // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
      if (!(c === 0x09 || (c >= 0x20 && c <= 0xff && c !== 0x7f))) {
        throw invalid('bad character in quoted-string');
      }
      out += s[i];
      i++;
    }
    // RFC 6455 §9.1: "When using the quoted-string syntax variant, the value
    // after quoted-string unescaping MUST conform to the 'token' ABNF."
    if (!isToken(out)) throw invalid('quoted value is not a token');
    return out;
  };

  const offers: ExtensionOffer[] = [];
  for (;;) {
    skipOws();
    if (i >= n) break;
    if (s[i] === ',') {
      // RFC 7230 §7: a recipient MUST accept (and ignore) empty list elements.
      i++;
      continue;
    }
    const name = readToken();
    if (!name) throw invalid(`expected an extension name at offset ${i}`);
    const params: Array<[string, string | true]> = [];
    skipOws();
    while (s[i] === ';') {
      i++;
      skipOws();
      const param = readToken();
      if (!param) throw invalid(`expected a parameter name at offset ${i}`);
      skipOws();
      let paramValue: string | true = true;
      if (s[i] === '=') {
        i++;
        skipOws();
        if (s[i] === '"') {
          paramValue = readQuoted();
        } else {
          paramValue = readToken();
          if (!paramValue) throw invalid(`expected a parameter value at offset ${i}`);
        }
        skipOws();
      }
      params.push([param.toLowerCase(), paramValue]);
    }
    offers.push({ name: name.toLowerCase(), params });
    if (i >= n) break;
    if (s[i] !== ',') throw invalid(`unexpected character at offset ${i}`);
    i++;
  }
  return offers;
}

/**
 * Formats one extension element, e.g. `permessage-deflate; server_max_window_bits=10`.
 * Values are written bare: RFC 6455 §9.1 requires every value to be a token
 * (even a quoted one, once unquoted), so quoting would never be needed.
 *
 * @throws TypeError when a name or a value is not a token.
 */
export function formatExtension(offer: ExtensionOffer): string {
  if (!isToken(offer.name)) throw new TypeError(`extension name is not a token: ${JSON.stringify(offer.name)}`);
  let out = offer.name;
  for (const [name, value] of offer.params) {
    if (!isToken(name)) throw new TypeError(`extension parameter name is not a token: ${JSON.stringify(name)}`);
    if (value === true) {
      out += `; ${name}`;
    } else if (isToken(value)) {
      out += `; ${name}=${value}`;
    } else {
      throw new TypeError(`extension parameter value is not a token: ${JSON.stringify(value)}`);
    }
  }
  return out;
}

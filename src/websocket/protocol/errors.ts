/**
 * Every error the protocol layer raises, with a stable `code` string and the
 * close code it maps to. This table is the one place where errors become close
 * codes (RFC 6455 §7.4.1); nothing else in the stack picks a close code for a
 * failure. Internal error text never goes on the wire: the close frame sent to
 * the peer carries only `closeReason`, a short fixed phrase per code.
 *
 * Documented for users in docs/errors.md.
 */

/** Close codes defined by RFC 6455 §7.4.1 that the stack itself sends. */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  NO_STATUS: 1005,
  ABNORMAL: 1006,
  INVALID_PAYLOAD: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  MANDATORY_EXTENSION: 1010,
  INTERNAL_ERROR: 1011,
} as const;

const table = {
  // Framing, RFC 6455 §5.2 - §5.5: all fail with 1002.
  RESERVED_OPCODE: [1002, 'reserved opcode'],
  RSV_NOT_NEGOTIATED: [1002, 'reserved bit set'],
  MASK_REQUIRED: [1002, 'frame must be masked'],
  MASK_FORBIDDEN: [1002, 'frame must not be masked'],
  LENGTH_HIGH_BIT: [1002, 'invalid frame length'],
  LENGTH_TOO_LARGE: [1009, 'frame too large'],
  CONTROL_FRAME_FRAGMENTED: [1002, 'fragmented control frame'],
  CONTROL_FRAME_TOO_LONG: [1002, 'control frame too long'],
  UNEXPECTED_CONTINUATION: [1002, 'unexpected continuation frame'],
  EXPECTED_CONTINUATION: [1002, 'expected continuation frame'],
  RSV1_ON_CONTINUATION: [1002, 'RSV1 set on continuation frame'],
  TOO_MANY_FRAGMENTS: [1009, 'too many fragments'],
  // Closing handshake, RFC 6455 §5.5.1 and §7.4.
  CLOSE_PAYLOAD_TOO_SHORT: [1002, 'invalid close payload'],
  INVALID_CLOSE_CODE: [1002, 'invalid close code'],
  INVALID_CLOSE_REASON: [1007, 'invalid close reason'],
  // Payload data, RFC 6455 §8.1 and RFC 7692 §6.2.
  INVALID_UTF8: [1007, 'invalid UTF-8'],
  INVALID_COMPRESSED_DATA: [1007, 'invalid compressed data'],
  // Limits chosen by the endpoint, RFC 6455 §10.4.
  MESSAGE_TOO_BIG: [1009, 'message too big'],
  // The peer reads too slowly: what we owe it passed `maxBackpressure`.
  SLOW_READER: [1008, 'too slow to read'],
  // The application or the adapter gave up on the connection.
  INTERNAL_ERROR: [1011, ''],
} as const satisfies Record<string, readonly [number, string]>;

/** Stable identifiers of protocol errors. */
export type ProtocolErrorCode = keyof typeof table;

/**
 * A violation of RFC 6455 / RFC 7692 by the peer, or a limit it exceeded.
 * `closeCode` and `closeReason` are what the close frame carries; `message`
 * may hold detail for logs and is never sent.
 */
export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode;
  readonly closeCode: number;
  readonly closeReason: string;

  constructor(code: ProtocolErrorCode, detail?: string) {
    const [closeCode, closeReason] = table[code];
    super(detail ? `${closeReason || code}: ${detail}` : closeReason || code);
    this.name = 'ProtocolError';
    this.code = code;
    this.closeCode = closeCode;
    this.closeReason = closeReason;
  }
}

/** Every protocol error code, for documentation and tests. */
export const protocolErrorCodes = Object.keys(table) as ProtocolErrorCode[];

/**
 * A failed opening handshake (RFC 6455 §4): on the server it becomes an HTTP
 * response with `status`; on the client it rejects `connect()`.
 */
export class HandshakeError extends Error {
  readonly code: string;
  readonly status: number;
  readonly headers: Record<string, string>;

  constructor(code: string, status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'HandshakeError';
    this.code = code;
    this.status = status;
    this.headers = headers;
  }
}

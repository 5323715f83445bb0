/**
 * The wschat WebSocket stack: RFC 6455, RFC 7692 permessage-deflate and
 * RFC 8441 WebSockets over HTTP/2, on a sans-I/O core. Usable on its own,
 * without the chat.
 *
 *   import { WebSocketServer, connect } from '@wschat/websocket';
 */
export { connect, type ConnectOptions, type TransportOptions } from './node/client.js';
export {
  type ConnectionOptions,
  DEFAULT_MAX_BACKPRESSURE,
  type SendCallback,
  type SendData,
  type SendOptions,
  WebSocket,
  type WebSocketEvents,
} from './node/connection.js';
export type { Bytes } from './protocol/bytes.js';
export type { HeartbeatOptions } from './node/heartbeat.js';
export {
  type AcceptDecision,
  type BroadcastOptions,
  type HandshakeInfo,
  WebSocketServer,
  type WebSocketServerEvents,
  type WebSocketServerOptions,
} from './node/server.js';
export { encodeClosePayload, isValidCloseCode, parseClosePayload } from './protocol/close.js';
export { CloseCode, HandshakeError, ProtocolError, type ProtocolErrorCode, protocolErrorCodes } from './protocol/errors.js';
export { type ExtensionOffer, formatExtension, parseExtensionHeader } from './protocol/extension.js';
export { Opcode } from './protocol/frame.js';
export {
  acceptKey,
  acceptRequest,
  clientRequest,
  generateKey,
  type HttpResponse,
  rejectResponse,
  serializeResponse,
  type ValidatedRequest,
  validateExtendedConnect,
  validateRequest,
  validateResponse,
} from './protocol/handshake.js';
export { HttpRequestParser, HttpResponseParser } from './protocol/http.js';
export {
  PerMessageDeflate,
  type PerMessageDeflateOptions,
  ZLIB_CONCURRENCY,
  ZlibLimiter,
  zlibLimiter,
} from './protocol/permessage-deflate.js';
export { PreparedMessage } from './protocol/prepared.js';
export {
  DEFAULT_MAX_FRAGMENTS,
  DEFAULT_MAX_MESSAGE_SIZE,
  defaultMaxFragments,
  InvalidStateError,
  type OutputMarker,
  Protocol,
  type ProtocolEvent,
  type ProtocolOptions,
  SEND_EOF,
  type Side,
  State,
} from './protocol/protocol.js';

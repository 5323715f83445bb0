/**
 * permessage-deflate.test.ts again, with zlib's synchronous path off: every
 * message, small ones included, then goes through the threadpool, so both
 * paths are held to the same vectors and limits.
 */
import { setSynchronousZlib } from '../../../src/websocket/protocol/permessage-deflate.js';

setSynchronousZlib(false);
await import('./permessage-deflate.test.js');

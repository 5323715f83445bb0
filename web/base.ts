/**
 * The server's path prefix (`wschat serve --base-path /chat`), which the
 * server writes into the page as `<meta name="wschat-base" content="/chat">`;
 * "" when the chat is at the root. Every URL the client makes starts with it.
 */
import { basePathFrom } from './format.js';

export const BASE = basePathFrom(document.querySelector('meta[name="wschat-base"]')?.getAttribute('content'));

/**
 * The browser client's entry point, bundled by scripts/build-web.mjs into
 * /assets/app.js. One page serves both routes: `/` (the landing) and
 * `/r/<room>` (a room); the path decides which part of index.html shows.
 */
import { BASE } from './base.js';
import { routeFor } from './format.js';
import { openBadRoom, openLanding } from './landing.js';
import { RoomPage } from './room.js';

const route = routeFor(location.pathname, BASE);
// The server checks what the page cannot (scripts mixed in a name) and says so.
const refused = document.querySelector('meta[name="wschat-bad-room"]')?.getAttribute('content') ?? null;
switch (route.page) {
  case 'landing':
    openLanding(null);
    break;
  case 'bad-room':
    openBadRoom(route.name, refused === null ? route.reason : sentence(refused));
    break;
  case 'room':
    if (refused !== null) openBadRoom(route.room, sentence(refused));
    else new RoomPage(route.room).open();
    break;
}

/** "room names are ..." as a sentence. */
function sentence(text: string): string {
  const first = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

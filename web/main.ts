/**
 * The browser client's entry point, bundled by scripts/build-web.mjs into
 * /assets/app.js. One page serves both routes: `/` (the landing) and
 * `/r/<room>` (a room); the path decides which part of index.html shows.
 */
import { BASE } from './base.js';
import { routeFor } from './format.js';
import { openLanding } from './landing.js';
import { RoomPage } from './room.js';

const route = routeFor(location.pathname, BASE);
switch (route.page) {
  case 'landing':
    openLanding(null);
    break;
  case 'bad-room':
    openLanding(`“${route.name}” is not a valid room name.`);
    break;
  case 'room':
    new RoomPage(route.room).open();
    break;
}

/** The landing page: "New room" and "open a room by name". */
import { randomId } from '../src/client/random.js';
import { byId, show } from './dom.js';
import { BASE } from './base.js';
import { NEW_ROOM_ID_LENGTH, roomNameProblem, roomPath, suggestRoomName } from './format.js';

/**
 * The page of a room name that is not valid (`/r/bad%20room`): which name,
 * why, a valid name close to it, and the way home. `reason` is the page's
 * own check or, for what only the server checks (mixed scripts), the
 * server's (a `wschat-bad-room` meta element).
 */
export function openBadRoom(name: string, reason: string): void {
  document.title = 'No such room · wschat';
  byId('bad-room-name', HTMLSpanElement).textContent = name === '' ? '(no name)' : `“${name}”`;
  byId('bad-room-reason', HTMLParagraphElement).textContent = reason;
  const suggestion = suggestRoomName(name);
  const link = byId('bad-room-suggestion', HTMLAnchorElement);
  if (suggestion !== null) {
    link.href = roomPath(suggestion, BASE);
    link.textContent = `Open “${suggestion}” instead`;
  }
  show(link, suggestion !== null);
  show(byId('bad-room', HTMLElement), true);
}

export function openLanding(error: string | null): void {
  const landing = byId('landing', HTMLElement);
  const newRoom = byId('new-room', HTMLButtonElement);
  const form = byId('open-form', HTMLFormElement);
  const input = byId('room-name', HTMLInputElement);
  const errorLine = byId('room-error', HTMLParagraphElement);
  document.title = 'wschat';
  show(landing, true);

  const fail = (message: string) => {
    errorLine.textContent = message;
    show(errorLine, true);
    input.setAttribute('aria-invalid', 'true');
  };
  if (error !== null) fail(error);

  newRoom.addEventListener('click', () => {
    // 16 characters of A-Za-z0-9_- from crypto.getRandomValues: 96 bits, unguessable.
    location.assign(roomPath(randomId(NEW_ROOM_ID_LENGTH), BASE));
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const name = input.value.trim();
    const problem = roomNameProblem(name);
    if (problem !== null) {
      const suggestion = name === '' ? null : suggestRoomName(name);
      fail(name === '' ? 'Type a room name, or make a new room.' : suggestion === null ? problem : `${problem} How about “${suggestion}”?`);
      input.focus();
      return;
    }
    location.assign(roomPath(name.normalize('NFC'), BASE));
  });
  input.addEventListener('input', () => {
    show(errorLine, false);
    input.removeAttribute('aria-invalid');
  });
}

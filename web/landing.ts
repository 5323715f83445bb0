/** The landing page: "New room" and "open a room by name". */
import { randomId } from '../src/client/random.js';
import { byId, show } from './dom.js';
import { BASE } from './base.js';
import { isValidRoomName, NEW_ROOM_ID_LENGTH, roomPath } from './format.js';

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
    if (!isValidRoomName(name)) {
      fail(
        name === ''
          ? 'Type a room name, or make a new room.'
          : 'A room name is 1 to 64 letters (A–Z, a–z), digits, “-” or “_”.',
      );
      input.focus();
      return;
    }
    location.assign(roomPath(name, BASE));
  });
  input.addEventListener('input', () => {
    show(errorLine, false);
    input.removeAttribute('aria-invalid');
  });
}

/**
 * Getting the user's attention while the tab is in the background: the
 * unread count in the title and on the favicon (a badge, red for a
 * mention), and for mentions of our nickname a desktop notification and a
 * short sound, each only if the user turned it on. Notification permission
 * is asked for only when the user clicks to turn them on (browsers ignore
 * or punish a request without a user gesture), never assumed; the sound
 * comes from Web Audio, which a click unlocks (no audio file to fetch, and
 * nothing for the Content-Security-Policy to allow).
 */
import { pageTitle } from './format.js';

const SOUND_KEY = 'wschat.sound';
const NOTIFY_KEY = 'wschat.notify';

export type NotifyState = 'unsupported' | 'off' | 'on' | 'blocked';

function stored(key: string): boolean {
  try {
    return localStorage.getItem(key) === '1';
  } catch {
    return false;
  }
}

function store(key: string, on: boolean): void {
  try {
    if (on) localStorage.setItem(key, '1');
    else localStorage.removeItem(key);
  } catch {
    // Storage unavailable: the choice lasts this page only.
  }
}

export class Attention {
  readonly #room: string;
  readonly #icon: HTMLLinkElement | null;
  readonly #plainIcon: string;
  #unread = 0;
  #mentioned = false;
  #audio: AudioContext | null = null;
  #iconImage: HTMLImageElement | null = null;

  constructor(room: string) {
    this.#room = room;
    this.#icon = document.querySelector<HTMLLinkElement>('link[rel="icon"]');
    this.#plainIcon = this.#icon?.href ?? '';
  }

  get unread(): number {
    return this.#unread;
  }

  /** Whether desktop notifications for mentions are on (asked for and allowed). */
  notifyState(): NotifyState {
    if (typeof Notification === 'undefined') return 'unsupported';
    if (Notification.permission === 'denied') return 'blocked';
    return Notification.permission === 'granted' && stored(NOTIFY_KEY) ? 'on' : 'off';
  }

  /** Turns notifications on (asking for permission: call from a click) or off. */
  async toggleNotify(): Promise<NotifyState> {
    const state = this.notifyState();
    if (state === 'unsupported' || state === 'blocked') return state;
    if (state === 'on') {
      store(NOTIFY_KEY, false);
      return 'off';
    }
    const permission = Notification.permission === 'granted' ? 'granted' : await Notification.requestPermission();
    store(NOTIFY_KEY, permission === 'granted');
    return this.notifyState();
  }

  get soundOn(): boolean {
    return stored(SOUND_KEY);
  }

  /** Turns the mention sound on or off (call from a click: it unlocks audio, and plays it once so the user hears it). */
  toggleSound(): boolean {
    const on = !this.soundOn;
    store(SOUND_KEY, on);
    if (on) this.#beep();
    return on;
  }

  /**
   * A new line arrived while the user was away (tab hidden). Counts it;
   * a mention of us also notifies (if on) and beeps (if on).
   */
  news(from: string, text: string, mention: boolean): void {
    this.#unread++;
    if (mention) {
      this.#mentioned = true;
      if (this.notifyState() === 'on') {
        try {
          const notification = new Notification(`${from} mentioned you in ${this.#room}`, { body: text, tag: `wschat-${this.#room}` });
          notification.onclick = () => {
            window.focus();
            notification.close();
          };
        } catch {
          // Some browsers allow notifications only from a service worker: the title and badge still say it.
        }
      }
      if (this.soundOn) this.#beep();
    }
    this.#show();
  }

  /** The user is back: nothing unread. */
  clear(): void {
    if (this.#unread === 0 && !this.#mentioned) return;
    this.#unread = 0;
    this.#mentioned = false;
    this.#show();
  }

  #show(): void {
    document.title = pageTitle(this.#room, this.#unread);
    this.#badge();
  }

  /** The favicon with the unread count on a badge (a PNG from a canvas: img-src allows data: URLs). */
  #badge(): void {
    const icon = this.#icon;
    if (icon === null) return;
    if (this.#unread === 0) {
      icon.href = this.#plainIcon;
      icon.type = 'image/svg+xml';
      return;
    }
    const draw = (image: HTMLImageElement | null): void => {
      const canvas = document.createElement('canvas');
      canvas.width = 64;
      canvas.height = 64;
      const g = canvas.getContext('2d');
      if (g === null) return;
      if (image !== null) g.drawImage(image, 0, 0, 64, 64);
      g.fillStyle = this.#mentioned ? '#d32f2f' : '#2f6fdf';
      g.beginPath();
      g.arc(44, 20, 20, 0, Math.PI * 2);
      g.fill();
      g.fillStyle = '#ffffff';
      g.font = 'bold 26px sans-serif';
      g.textAlign = 'center';
      g.textBaseline = 'middle';
      g.fillText(this.#unread > 9 ? '9+' : String(this.#unread), 44, 21);
      icon.href = canvas.toDataURL('image/png');
      icon.type = 'image/png';
    };
    if (this.#iconImage?.complete) {
      draw(this.#iconImage);
      return;
    }
    const image = new Image();
    image.onload = () => {
      this.#iconImage = image;
      if (this.#unread > 0) draw(image);
    };
    image.onerror = () => draw(null);
    image.src = this.#plainIcon;
    draw(null);
  }

  /** Two short tones. */
  #beep(): void {
    try {
      this.#audio ??= new AudioContext();
      const audio = this.#audio;
      if (audio.state === 'suspended') void audio.resume().catch(() => undefined);
      const now = audio.currentTime;
      for (const [at, frequency] of [
        [0, 880],
        [0.12, 1320],
      ] as const) {
        const oscillator = audio.createOscillator();
        const gain = audio.createGain();
        oscillator.frequency.value = frequency;
        gain.gain.setValueAtTime(0.0001, now + at);
        gain.gain.exponentialRampToValueAtTime(0.2, now + at + 0.01);
        gain.gain.exponentialRampToValueAtTime(0.0001, now + at + 0.1);
        oscillator.connect(gain).connect(audio.destination);
        oscillator.start(now + at);
        oscillator.stop(now + at + 0.11);
      }
    } catch {
      // No audio on this device: the notification and the title still say it.
    }
  }
}

/**
 * Time and timers for the chat core. Everything that waits (grace periods,
 * history expiry sweeps, rate limits) goes through a `Clock`, so tests drive
 * time with `ManualClock.advance()` instead of sleeping.
 */

/** A scheduled callback that can be cancelled; cancelling twice is harmless. */
export interface Timer {
  cancel(): void;
}

/** A time source (milliseconds since the epoch) and a one-shot scheduler. */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, delayMs: number): Timer;
}

/** The real clock. Its timers are unref'd: a pending grace period must not keep a stopping process alive. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(callback: () => void, delayMs: number): Timer {
    const handle = setTimeout(callback, Math.max(0, delayMs));
    handle.unref();
    return { cancel: () => clearTimeout(handle) };
  },
};

interface ManualTimer {
  at: number;
  order: number;
  callback: () => void;
  cancelled: boolean;
}

/**
 * A clock that moves only when told to. `advance(ms)` runs every timer that
 * falls due within the window, in due-time order (ties in scheduling order),
 * including timers scheduled by those callbacks.
 */
export class ManualClock implements Clock {
  #now: number;
  #order = 0;
  #timers: ManualTimer[] = [];

  constructor(start = 1_700_000_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, delayMs: number): Timer {
    const timer: ManualTimer = {
      at: this.#now + Math.max(0, delayMs),
      order: this.#order++,
      callback,
      cancelled: false,
    };
    this.#timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  /** Number of timers scheduled and neither run nor cancelled. */
  get pendingTimers(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }

  /**
   * Moves time forward by `ms`, running due timers on the way.
   * @throws RangeError if `ms` is negative (time never goes back).
   */
  advance(ms: number): void {
    if (ms < 0) throw new RangeError('a clock cannot go back');
    const target = this.#now + ms;
    for (;;) {
      this.#timers = this.#timers.filter((t) => !t.cancelled);
      let next: ManualTimer | undefined;
      for (const t of this.#timers) {
        if (t.at <= target && (next === undefined || t.at < next.at || (t.at === next.at && t.order < next.order))) {
          next = t;
        }
      }
      if (next === undefined) break;
      this.#now = Math.max(this.#now, next.at);
      next.cancelled = true;
      next.callback();
    }
    this.#now = target;
  }
}

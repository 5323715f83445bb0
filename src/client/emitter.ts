/**
 * A minimal typed event emitter that runs in browsers and in Node (the
 * session cannot use node:events or EventTarget's DOM typings).
 */

/** Event name -> listener arguments. */
export type EventMap = Record<string, unknown[]>;

type Listener<A extends unknown[]> = (...args: A) => void;

export class Emitter<E extends EventMap> {
  private readonly listeners = new Map<keyof E, Set<Listener<never[]>>>();

  /**
   * @param onListenerError where errors thrown by listeners go; by default
   *   they are rethrown from a microtask, where they reach the host's
   *   unhandled-error reporting (window.onerror, uncaughtException).
   */
  constructor(private readonly onListenerError: (error: unknown) => void = rethrowLater) {}

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof E>(type: K, listener: Listener<E[K]>): () => void {
    let set = this.listeners.get(type);
    if (!set) {
      set = new Set();
      this.listeners.set(type, set);
    }
    set.add(listener as unknown as Listener<never[]>);
    return () => this.off(type, listener);
  }

  off<K extends keyof E>(type: K, listener: Listener<E[K]>): void {
    this.listeners.get(type)?.delete(listener as unknown as Listener<never[]>);
  }

  /**
   * Calls every listener of `type` in the order they were added. A listener
   * that throws does not stop the others nor the caller (the emitter's owner
   * is in the middle of updating its state): the error goes to `onListenerError`.
   */
  protected emit<K extends keyof E>(type: K, ...args: E[K]): void {
    const set = this.listeners.get(type);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as unknown as Listener<E[K]>)(...args);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }
}

function rethrowLater(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}

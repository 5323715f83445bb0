import type { RoomEvent, RoomListener } from './store.js';

/**
 * The room bus of a single-node store (memory, SQLite): followers in this
 * process only. Events are delivered in the order they were emitted, on a
 * later turn of the event loop, never from inside the store operation that
 * caused them: the room that made a change has already applied it from the
 * operation's result, so the echo finds nothing new and is dropped by
 * sequence number or seat version.
 */
export class LocalBus {
  readonly #followers = new Map<string, Set<RoomListener>>();
  #queue: RoomEvent[] = [];
  #scheduled = false;

  follow(room: string, listener: RoomListener): () => void {
    let set = this.#followers.get(room);
    if (set === undefined) {
      set = new Set();
      this.#followers.set(room, set);
    }
    set.add(listener);
    return () => {
      const current = this.#followers.get(room);
      if (current === undefined) return;
      current.delete(listener);
      if (current.size === 0) this.#followers.delete(room);
    };
  }

  emit(event: RoomEvent): void {
    if (!this.#followers.has(event.room)) return;
    this.#queue.push(event);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.#drain());
  }

  #drain(): void {
    this.#scheduled = false;
    const queue = this.#queue;
    this.#queue = [];
    for (const event of queue) {
      const set = this.#followers.get(event.room);
      if (set === undefined) continue;
      deliverToFollowers(set, event);
    }
  }
}

/**
 * Hands an event to every follower of its room. A follower's bug must not
 * cost the other followers their events; it still surfaces, as an uncaught
 * exception would. Shared by the stores' buses.
 */
export function deliverToFollowers(followers: ReadonlySet<RoomListener>, event: RoomEvent): void {
  for (const listener of [...followers]) {
    try {
      listener(event);
    } catch (error) {
      queueMicrotask(() => {
        throw error;
      });
    }
  }
}

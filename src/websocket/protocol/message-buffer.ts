/**
 * The payload of a message being received, gathered from its fragments
 * (RFC 6455 §5.4). Memory held is a small constant times the payload,
 * however it was fragmented: the parser hands on pieces that are views into
 * the chunks read from the network, and keeping one view per fragment would
 * keep every chunk alive (131,071 one-byte fragments held 12 MiB or more for
 * 128 KiB of payload). Small pieces are therefore copied into one growing
 * buffer (capacity doubled as needed, so at most twice what it holds); only
 * a large piece that fills most of its own memory is kept as it is, without
 * a copy, which is what a large message in few frames consists of.
 */

/** A piece at least this large that uses at least half of its memory is kept without copying. */
const KEEP = 16 * 1024;
/** The first capacity of the growing buffer. */
const INITIAL = 256;

export class MessageBuffer {
  /** Bytes gathered so far. */
  length = 0;
  /** Finished parts, in order: kept pieces and filled growing buffers. */
  #parts: Buffer[] = [];
  /** The growing buffer being filled, and how much of it is used. */
  #open: Buffer | null = null;
  #used = 0;

  /** Add the next piece (the caller may reuse nothing: kept pieces are not copied). */
  push(piece: Buffer): void {
    const n = piece.length;
    if (n === 0) return;
    this.length += n;
    if (n >= KEEP && n * 2 >= piece.buffer.byteLength) {
      this.#seal();
      this.#parts.push(piece);
      return;
    }
    let open = this.#open;
    if (open === null || this.#used + n > open.length) {
      // Doubling keeps the copying linear in the payload, and the unused
      // capacity below what is used.
      const grown = Buffer.allocUnsafe(Math.max(INITIAL, this.#used + n, (open?.length ?? 0) * 2));
      if (open !== null) open.copy(grown, 0, 0, this.#used);
      open = grown;
      this.#open = grown;
    }
    piece.copy(open, this.#used);
    this.#used += n;
  }

  /** The whole payload, and the buffer emptied for the next message. */
  take(): Buffer {
    this.#seal();
    const parts = this.#parts;
    const whole = parts.length === 1 ? parts[0]! : Buffer.concat(parts, this.length);
    this.clear();
    return whole;
  }

  /** Drop what was gathered. */
  clear(): void {
    this.#parts = [];
    this.#open = null;
    this.#used = 0;
    this.length = 0;
  }

  #seal(): void {
    if (this.#open === null) return;
    this.#parts.push(this.#open.subarray(0, this.#used));
    this.#open = null;
    this.#used = 0;
  }
}

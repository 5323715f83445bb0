/** Helpers shared by the protocol tests: hex byte vectors and input splitting. */

/** Bytes from a hex string; spaces and newlines are ignored ("81 05 48 65"). */
export function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

/** Hex of a buffer, bytes separated by spaces, for readable assertion failures. */
export function toHex(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('hex').replace(/(..)(?=.)/g, '$1 ');
}

/** The input cut at the given offsets (sorted, deduplicated, within bounds); each piece is a fresh copy. */
export function splitAt(data: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.filter((c) => c > 0 && c < data.length))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let start = 0;
  for (const p of points) {
    pieces.push(Buffer.from(data.subarray(start, p)));
    start = p;
  }
  pieces.push(Buffer.from(data.subarray(start)));
  return pieces;
}

/** The input one byte at a time. */
export function bytewise(data: Buffer): Buffer[] {
  return [...data].map((b) => Buffer.from([b]));
}

export function concat(chunks: Buffer[]): Buffer {
  return Buffer.concat(chunks);
}

/**
 * Byte sources: what the stack accepts as binary data, and the one place
 * where a view of memory becomes a Buffer.
 */

/** Bytes to send: any view of memory (typed arrays of any element size, DataView, Buffer) or the memory itself. */
export type Bytes = ArrayBufferView | ArrayBuffer | SharedArrayBuffer;

/**
 * A Buffer over the same memory, without copying, counted in bytes: a
 * Uint16Array of 3 elements is 6 bytes, a DataView covers its byteLength.
 */
export function toBuffer(data: Bytes): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

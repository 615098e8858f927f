// Conversions of JavaScript values to WIT values shared by Client and the mailer.

/** Bytes from a string (UTF-8), a Uint8Array/Buffer, an ArrayBuffer or another view. */
export function bytes(data) {
  if (typeof data === 'string') return new TextEncoder().encode(data);
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError('a message must be a string, a Uint8Array, a Buffer or an ArrayBuffer');
}

/** A list from undefined/null (empty), one string, or an iterable. */
export function list(value) {
  if (value === undefined || value === null) return [];
  return typeof value === 'string' ? [value] : [...value];
}

/**
 * A buffer to decode into and read back at once, reused by every call instead of a fresh
 * `Buffer.from` each time (Node's 8 KiB allocation pool is then refilled every few tokens, and
 * each refill is an allocation the garbage collector has to meet). Safe only for synchronous
 * use: write, read (parse, verify) and let go within one call, nothing awaited in between.
 * Inputs larger than the buffer get a buffer of their own. Views are plain Uint8Arrays, which
 * cost half of what a Buffer view does to make.
 */
export function createScratch(bytes: number) {
  const scratch = Buffer.allocUnsafeSlow(bytes);
  const view = (offset: number, length: number) =>
    new Uint8Array(scratch.buffer, scratch.byteOffset + offset, length);
  return {
    /** The ASCII bytes of `text` (a base64url token part, already checked), from `offset`. */
    ascii(text: string, offset = 0): Uint8Array {
      if (offset + text.length > bytes) return Buffer.from(text, 'latin1');
      return view(offset, scratch.write(text, offset, 'latin1'));
    },
    /** The bytes a checked base64url segment decodes to, from `offset`. */
    base64url(segment: string, offset = 0): Uint8Array {
      // Decoded, a segment is at most 3/4 of its length.
      if (offset + segment.length > bytes) return Buffer.from(segment, 'base64url');
      return view(offset, scratch.write(segment, offset, 'base64url'));
    },
  };
}

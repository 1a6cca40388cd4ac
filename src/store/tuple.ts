/**
 * Order-preserving tuple encoding for RocksDB keys: comparing two encoded tuples bytewise gives the
 * same order as comparing the tuples element by element.
 *
 *   tuple   = element*
 *   element = 0x01                                  ; null
 *           | 0x02 escaped-utf8 0x00                ; string (0x00 inside is written 0x00 0xFF)
 *           | 0x03 float64-big-endian-flipped       ; number: sign bit flipped if >= 0,
 *                                                   ;         all bits flipped if < 0
 *
 * UTF-8 never contains 0xFF, so `prefix ++ 0xFF` sorts after every tuple that extends `prefix`
 * (see `prefixEnd`). Tags are below 0xFF, so a shorter tuple sorts before its extensions.
 */

export type TupleElement = string | number | null;

const TAG_NULL = 0x01;
const TAG_STRING = 0x02;
const TAG_NUMBER = 0x03;

const scratch = Buffer.allocUnsafe(8);

function stringBytes(value: string): number {
  // Upper bound for the escaped form; exact in the common case without NUL characters.
  return Buffer.byteLength(value, 'utf8') * 2 + 2;
}

function encodedSize(elements: readonly TupleElement[]): number {
  let size = 0;
  for (const element of elements) {
    if (element === null) size += 1;
    else if (typeof element === 'number') size += 9;
    else size += stringBytes(element);
  }
  return size;
}

/** Writes the elements at `at` (the buffer has room for `encodedSize`); returns the end. */
function writeElements(out: Buffer, at: number, elements: readonly TupleElement[]): number {
  for (const element of elements) {
    if (element === null) {
      out[at++] = TAG_NULL;
    } else if (typeof element === 'number') {
      out[at++] = TAG_NUMBER;
      scratch.writeDoubleBE(element === 0 ? 0 : element, 0); // folds -0 into 0
      const negative = (scratch[0]! & 0x80) !== 0;
      for (let i = 0; i < 8; i++) {
        const byte = scratch[i]!;
        out[at + i] = negative ? ~byte & 0xff : i === 0 ? byte ^ 0x80 : byte;
      }
      at += 8;
    } else {
      out[at++] = TAG_STRING;
      const start = at;
      at += out.write(element, at, 'utf8');
      if (element.includes('\u0000')) at = escapeNul(out, start, at);
      out[at++] = 0x00;
    }
  }
  return at;
}

/** Encodes a tuple into a new Buffer. */
export function encodeTuple(elements: readonly TupleElement[]): Buffer {
  const out = Buffer.allocUnsafe(encodedSize(elements));
  return out.subarray(0, writeElements(out, 0, elements));
}

/** Rewrites `buf[start, end)` in place so each 0x00 becomes 0x00 0xFF; the buffer has room. */
function escapeNul(buf: Buffer, start: number, end: number): number {
  const raw = Buffer.from(buf.subarray(start, end));
  let at = start;
  for (const byte of raw) {
    buf[at++] = byte;
    if (byte === 0x00) buf[at++] = 0xff;
  }
  return at;
}

/**
 * Decodes a tuple written by `encodeTuple`, from byte `from` on (the end of a known prefix, so a
 * scan decodes only the elements that differ between its entries). Throws on malformed input.
 */
export function decodeTuple(buf: Uint8Array, from = 0): TupleElement[] {
  const out: TupleElement[] = [];
  const view = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  let at = from;
  while (at < view.length) {
    const tag = view[at++];
    if (tag === TAG_NULL) {
      out.push(null);
    } else if (tag === TAG_NUMBER) {
      if (at + 8 > view.length) throw new RangeError('truncated number in tuple');
      const negative = (view[at]! & 0x80) === 0;
      for (let i = 0; i < 8; i++) {
        const byte = view[at + i]!;
        scratch[i] = negative ? ~byte & 0xff : i === 0 ? byte ^ 0x80 : byte;
      }
      out.push(scratch.readDoubleBE(0));
      at += 8;
    } else if (tag === TAG_STRING) {
      let end = view.indexOf(0x00, at);
      if (end < 0) throw new RangeError('unterminated string in tuple');
      if (view[end + 1] !== 0xff) {
        out.push(view.toString('utf8', at, end));
        at = end + 1;
        continue;
      }
      const parts: Buffer[] = [];
      while (end >= 0 && view[end + 1] === 0xff) {
        parts.push(view.subarray(at, end + 1));
        at = end + 2;
        end = view.indexOf(0x00, at);
      }
      if (end < 0) throw new RangeError('unterminated string in tuple');
      parts.push(view.subarray(at, end));
      out.push(Buffer.concat(parts).toString('utf8'));
      at = end + 1;
    } else {
      throw new RangeError(`unknown tuple tag ${String(tag)}`);
    }
  }
  return out;
}

/** The smallest key greater than every key that starts with `prefix`. */
export function prefixEnd(prefix: Buffer): Buffer {
  const out = Buffer.allocUnsafe(prefix.length + 1);
  prefix.copy(out);
  out[prefix.length] = 0xff;
  return out;
}

/** An encoded prefix followed by more elements, in one allocation (the key hot path). */
export function extendTuple(prefix: Buffer, elements: readonly TupleElement[]): Buffer {
  const out = Buffer.allocUnsafe(prefix.length + encodedSize(elements));
  prefix.copy(out, 0);
  return out.subarray(0, writeElements(out, prefix.length, elements));
}

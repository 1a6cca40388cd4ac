/**
 * Comparison in storage order: numbers numerically, strings by their UTF-8 bytes (which is how
 * RocksDB orders the encoded keys). JavaScript's `<` compares UTF-16 code units, which differs
 * from UTF-8 byte order only when a surrogate pair meets a character from U+E000 to U+FFFF.
 */
export function compareValues(a: string | number, b: string | number): number {
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  return compareUtf8(String(a), String(b));
}

export function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x < 0xd800 && y < 0xd800) return x - y;
    return Buffer.compare(Buffer.from(a.slice(i), 'utf8'), Buffer.from(b.slice(i), 'utf8'));
  }
  return a.length - b.length;
}

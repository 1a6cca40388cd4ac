import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { murmur2, partitionForKey } from '../../src/cluster/partitioner.ts';

// Expected values come from the real Java client (kafka-clients'
// StringSerializer + BuiltInPartitioner.partitionForKey, cross-checked there
// against Utils.toPositive(Utils.murmur2(..)) % n). Regenerate with
// test/fixtures/partitions/generate.sh.
interface JavaFixture {
  kafkaClientsVersion: string;
  partitionCounts: number[];
  keys: Array<{
    key: string;
    /** the key's bytes as Java serialized them, hex */
    utf8: string;
    /** Utils.murmur2 of those bytes (signed 32-bit) */
    murmur2: number;
    /** partition count -> expected partition */
    partitions: Record<string, number>;
  }>;
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/partitions/java-partitions.json', import.meta.url), 'utf8')) as JavaFixture;

/** Mismatch count plus the first few, so a failure stays readable. */
function summary<T>(mismatches: T[]): { count: number; first: T[] } {
  return { count: mismatches.length, first: mismatches.slice(0, 5) };
}

function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

describe('java-partitions.json fixture', () => {
  it('comes from kafka-clients 3.x and covers the cases we rely on', () => {
    expect(fixture.kafkaClientsVersion).toMatch(/^3\.\d+\.\d+$/);
    expect(fixture.partitionCounts).toEqual([1, 3, 6, 12, 100]);
    expect(fixture.keys.length).toBeGreaterThanOrEqual(250);
    const byteLengths = new Set(fixture.keys.map((k) => k.utf8.length / 2));
    for (let len = 0; len <= 9; len++) expect(byteLengths, `a ${len}-byte key`).toContain(len);
    const keys = fixture.keys.map((k) => k.key);
    expect(keys).toContain('ord-000001');
    expect(keys).toContain('cus-42');
    expect(keys).toContain('日本語');
    expect(keys).toContain('😀');
    expect(keys.some((k) => k.length > 100)).toBe(true);
    // Short and long keys take different encoders in the gateway: cover
    // non-ASCII and unpaired surrogates (which Java writes as '?') in both.
    const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the ASCII range includes control characters on purpose.
    const nonAscii = /[^\x00-\x7f]/;
    for (const [what, pick] of [
      ['short', (k: string) => k.length <= 8],
      ['long', (k: string) => k.length > 32],
    ] as const) {
      expect(
        keys.filter(pick).some((k) => loneSurrogate.test(k)),
        `${what} key with a lone surrogate`,
      ).toBe(true);
      expect(
        keys.filter(pick).some((k) => nonAscii.test(k) && !loneSurrogate.test(k)),
        `${what} well-formed non-ASCII key`,
      ).toBe(true);
    }
    for (const k of fixture.keys) {
      expect(Object.keys(k.partitions).map(Number)).toEqual(fixture.partitionCounts);
    }
  });
});

describe('murmur2', () => {
  it('equals Java Utils.murmur2 for every fixture key', () => {
    const mismatches = fixture.keys.map((k) => ({ key: k.key, java: k.murmur2, ours: murmur2(hexBytes(k.utf8)) })).filter((r) => r.ours !== r.java);
    expect(summary(mismatches)).toEqual({ count: 0, first: [] });
  });

  it('returns a signed 32-bit integer', () => {
    for (const k of fixture.keys) {
      const h = murmur2(hexBytes(k.utf8));
      expect(h).toBe(h | 0);
    }
  });
});

describe('partitionForKey', () => {
  it('equals the Java producer partition for every string key and partition count', () => {
    const mismatches: Array<{ key: string; count: number; java: number; ours: number }> = [];
    // Largest count first: with 1 partition every key maps to 0, which would
    // hide a wrong hash on a key's first call.
    const counts = [...fixture.partitionCounts].reverse();
    for (const k of fixture.keys) {
      for (const count of counts) {
        const java = k.partitions[String(count)];
        const ours = partitionForKey(k.key, count);
        if (ours !== java) mismatches.push({ key: k.key, count, java: java ?? NaN, ours });
      }
    }
    expect(summary(mismatches)).toEqual({ count: 0, first: [] });
  });

  it('equals the Java producer partition for the same keys as bytes (Uint8Array and Buffer)', () => {
    const mismatches: Array<{ key: string; count: number; java: number; u8: number; buf: number }> = [];
    for (const k of fixture.keys) {
      const bytes = hexBytes(k.utf8);
      const buf = Buffer.from(k.utf8, 'hex');
      for (const count of fixture.partitionCounts) {
        const java = k.partitions[String(count)];
        const u8 = partitionForKey(bytes, count);
        const b = partitionForKey(buf, count);
        if (u8 !== java || b !== java) mismatches.push({ key: k.key, count, java: java ?? NaN, u8, buf: b });
      }
    }
    expect(summary(mismatches)).toEqual({ count: 0, first: [] });
  });

  it('hashes a byte view by its own bytes, not its backing buffer', () => {
    const k = fixture.keys.find((e) => e.key === 'ord-000001');
    if (!k) throw new Error('fixture lacks ord-000001');
    const padded = new Uint8Array(32).fill(0x41);
    padded.set(hexBytes(k.utf8), 7);
    const view = padded.subarray(7, 7 + k.utf8.length / 2);
    expect(murmur2(view)).toBe(k.murmur2);
    expect(partitionForKey(view, 100)).toBe(k.partitions['100']);
  });

  it('is right on the very call that grows its scratch buffer, and after', async () => {
    // Fresh module so the scratch buffer starts small whatever ran before;
    // each key below is longer than any before it, so each call grows it.
    vi.resetModules();
    const fresh = await import('../../src/cluster/partitioner.ts');
    const javaLong = fixture.keys.filter((k) => k.key.length > 100).sort((a, b) => a.key.length - b.key.length);
    expect(javaLong.length).toBeGreaterThanOrEqual(2);
    for (const k of javaLong) {
      expect(fresh.partitionForKey(k.key, 100), k.key.slice(0, 12)).toBe(k.partitions['100']);
    }
    const longer = `${'x'.repeat(10_000)}日本語😀`;
    expect(fresh.partitionForKey(longer, 2147483647)).toBe(murmur2(Buffer.from(longer, 'utf8')) & 0x7fffffff);
    for (const k of fixture.keys.slice(0, 20)) {
      expect(fresh.partitionForKey(k.key, 100)).toBe(k.partitions['100']);
    }
  });

  it('accepts the largest Java int partition count', () => {
    const k = fixture.keys[0]!;
    expect(partitionForKey(k.key, 2147483647)).toBe((k.murmur2 & 0x7fffffff) % 2147483647);
  });

  it.each([
    [0, /got 0$/],
    [-1, /got -1$/],
    [-0, /got -0$/],
    [1.5, /got 1\.5$/],
    [Number.NaN, /got NaN$/],
    [Number.POSITIVE_INFINITY, /got Infinity$/],
    [2 ** 31, /got 2147483648$/],
    ['3', /got string "3"$/],
    [undefined, /got undefined$/],
    [null, /got null$/],
  ])('throws a RangeError for partitionCount %s', (count, message) => {
    expect(() => partitionForKey('ord-000001', count as number)).toThrow(RangeError);
    expect(() => partitionForKey('ord-000001', count as number)).toThrow(message);
  });

  it('throws a TypeError for a key that is neither string nor bytes', () => {
    expect(() => partitionForKey(null as unknown as string, 3)).toThrow(TypeError);
    expect(() => partitionForKey(42 as unknown as string, 3)).toThrow(/got 42$/);
  });
});

/**
 * Range readers of the RocksDB store (src/store/rocks.ts) against a real database: what a closed
 * reader leaves behind. Grid pages open about a dozen readers each, so anything a closed reader
 * keeps alive grows with traffic until the instance runs out of memory.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { attachKeyValueStore, openKeyValueStore, type KeyValueStore } from '../../src/store/rocks.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

describe('range readers', () => {
  let dir: string;
  let kv: KeyValueStore;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'range-readers-'));
    kv = await openKeyValueStore(dir);
    kv.write(Array.from({ length: 100 }, (_, n) => ({ type: 'put' as const, key: Buffer.from(`k${String(n).padStart(3, '0')}`), value: `v${n}` })));
  });

  afterEach(async () => {
    await kv.close();
    await rm(dir, { recursive: true, force: true });
  });

  const heapAfterGc = (): number => {
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  };

  it('read what they cover and, once closed, keep nothing alive', () => {
    const read = (): string[] => {
      const reader = kv.range({ gte: Buffer.from('k010'), lt: Buffer.from('k013'), values: true });
      reader.seek(Buffer.from('k010'));
      const entries = reader.next(10).map(([key, value]) => `${key.toString()}=${value}`);
      reader.close();
      return entries;
    };
    expect(read()).toEqual(['k010=v10', 'k011=v11', 'k012=v12']);
    for (let n = 0; n < 2_000; n++) read(); // warm up
    const before = heapAfterGc();
    for (let n = 0; n < 50_000; n++) read();
    const grown = heapAfterGc() - before;
    // A closed reader that stayed registered with the database kept about 1 kB: 50 MB here.
    expect(grown).toBeLessThan(5 << 20);
  });

  describe('valuesFrom', () => {
    const scope = (reverse: boolean) => ({ gte: Buffer.from('k'), lt: Buffer.from('k\xff\x00', 'latin1'), reverse });
    const read = (reverse: boolean, from: string, max = 5): string[] => {
      const reader = kv.valuesFrom(scope(reverse), Buffer.from(from, 'latin1'));
      const values = reader.next(max);
      reader.close();
      return values;
    };

    it('reads from a position to the end of the scope, either way, and reuses a closed reader', () => {
      expect(read(false, 'k')).toEqual(['v0', 'v1', 'v2', 'v3', 'v4']);
      const opened = kv.stats.readersOpened;
      expect(read(false, 'k050')).toEqual(['v50', 'v51', 'v52', 'v53', 'v54']);
      expect(read(false, 'k0505')).toEqual(['v51', 'v52', 'v53', 'v54', 'v55']);
      expect(read(false, 'k098')).toEqual(['v98', 'v99']);
      expect(kv.stats.readersOpened).toBe(opened);
      // In reverse a position is the last key at or before it; the end of the scope is the last key.
      expect(read(true, 'k\xff', 3)).toEqual(['v99', 'v98', 'v97']);
      expect(read(true, 'k050', 3)).toEqual(['v50', 'v49', 'v48']);
      expect(read(true, 'k0505', 3)).toEqual(['v50', 'v49', 'v48']);
      expect(read(true, 'k001')).toEqual(['v1', 'v0']);
      expect(kv.stats.readersOpened).toBe(opened + 1);
    });

    it('never answers from a reader opened before a write', () => {
      expect(read(false, 'k010', 2)).toEqual(['v10', 'v11']);
      const held = kv.valuesFrom(scope(false), Buffer.from('k020'));
      kv.write([
        { type: 'put', key: Buffer.from('k010'), value: 'changed' },
        { type: 'del', key: Buffer.from('k011') },
      ]);
      // A reader opened before the write reads the store as it was; closing it must not park it.
      expect(held.next(2)).toEqual(['v20', 'v21']);
      held.close();
      expect(read(false, 'k010', 2)).toEqual(['changed', 'v12']);
      expect(read(true, 'k011', 2)).toEqual(['changed', 'v9']);
    });

    it('stay parked in a store attached to another thread until a write to their keys is told', async () => {
      const attached = attachKeyValueStore(kv.handle, kv.writes);
      const readAt = (from: string): string[] => {
        const reader = attached.valuesFrom(scope(false), Buffer.from(from, 'latin1'));
        const values = reader.next(2);
        reader.close();
        return values;
      };
      expect(readAt('k010')).toEqual(['v10', 'v11']);
      const opened = attached.stats.readersOpened;
      // A write outside the scope, told: the parked reader serves on.
      kv.write([{ type: 'put', key: Buffer.from('x1'), value: 'elsewhere' }]);
      attached.forgetReaders([Buffer.from('x')]);
      expect(readAt('k020')).toEqual(['v20', 'v21']);
      expect(attached.stats.readersOpened).toBe(opened);
      // A write inside it, told: the next read opens a reader that sees it.
      kv.write([{ type: 'put', key: Buffer.from('k020'), value: 'changed' }]);
      attached.forgetReaders([Buffer.from('k')]);
      expect(readAt('k020')).toEqual(['changed', 'v21']);
      expect(attached.stats.readersOpened).toBe(opened + 1);
      // A reader in use while a write is told reads its own state to the end, and is not parked.
      const held = attached.valuesFrom(scope(false), Buffer.from('k030'));
      kv.write([{ type: 'put', key: Buffer.from('k031'), value: 'again' }]);
      attached.forgetReaders([Buffer.from('k')]);
      expect(held.next(2)).toEqual(['v30', 'v31']);
      held.close();
      expect(readAt('k030')).toEqual(['v30', 'again']);
      expect(attached.stats.readersOpened).toBe(opened + 2);
      // Told of everything: nothing stays parked.
      attached.forgetReaders();
      expect(readAt('k040')).toEqual(['v40', 'v41']);
      expect(attached.stats.readersOpened).toBe(opened + 3);
      await attached.close();
    });

    it('serves two readers of one scope at once', () => {
      const first = kv.valuesFrom(scope(false), Buffer.from('k000'));
      const second = kv.valuesFrom(scope(false), Buffer.from('k090'));
      expect(first.next(2)).toEqual(['v0', 'v1']);
      expect(second.next(2)).toEqual(['v90', 'v91']);
      expect(first.next(1)).toEqual(['v2']);
      first.close();
      second.close();
      expect(second.next(1)).toEqual([]);
      expect(read(false, 'k095')).toEqual(['v95', 'v96', 'v97', 'v98', 'v99']);
    });

    it('keep nothing alive across many reads, whether parked or closed after writes', () => {
      for (let n = 0; n < 2_000; n++) read(n % 2 === 0, `k0${String(n % 100).padStart(2, '0')}`);
      const before = heapAfterGc();
      for (let n = 0; n < 50_000; n++) {
        if (n % 1_000 === 0) kv.write([{ type: 'put', key: Buffer.from('k050'), value: `v50-${n}` }]);
        read(n % 2 === 0, `k0${String(n % 100).padStart(2, '0')}`);
      }
      expect(heapAfterGc() - before).toBeLessThan(5 << 20);
    });
  });
});

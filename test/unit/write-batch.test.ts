/**
 * The store's write batch (rocks.ts): operations reach RocksDB only on commit, all at once; a
 * discarded batch leaves nothing behind; one batch is open at a time, and the native batch is
 * reused, so a commit never carries a previous batch's operations. Every write advances the
 * write sequence read workers check (odd while it runs), and a store attached through the
 * database's handle reads what the owner wrote and refuses to write.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { attachKeyValueStore, openKeyValueStore, type KeyValueStore } from '../../src/store/rocks.ts';

describe('write batch', () => {
  let dir: string;
  let kv: KeyValueStore;
  const key = (text: string) => Buffer.from(text);

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gw-batch-'));
    kv = await openKeyValueStore(dir);
  });
  afterEach(async () => {
    await kv.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes on commit only, strings and Buffers alike', () => {
    const batch = kv.batch();
    batch.put(key('a'), 'one');
    batch.put(key('b'), Buffer.from('two'));
    expect(batch.length).toBe(2);
    expect(kv.getMany([key('a')])).toEqual([undefined]);
    batch.commit();
    expect(kv.getMany([key('a'), key('b')])).toEqual(['one', 'two']);
  });

  it('leaves nothing of a discarded batch, in the store or in the next commit', () => {
    const dropped = kv.batch();
    dropped.put(key('a'), 'one');
    dropped.discard();
    const next = kv.batch();
    expect(next.length).toBe(0);
    next.put(key('b'), 'two');
    next.del(key('c'));
    next.commit();
    expect(kv.getMany([key('a'), key('b')])).toEqual([undefined, 'two']);
  });

  it('refuses a second batch while one is open', () => {
    const open = kv.batch();
    expect(() => kv.batch()).toThrow(/already open/);
    expect(() => kv.write([{ type: 'put', key: key('x'), value: '1' }])).toThrow(/already open/);
    open.discard();
    kv.write([{ type: 'put', key: key('x'), value: '1' }]);
    expect(kv.getMany([key('x')])).toEqual(['1']);
  });

  it('advances the write sequence by two per write, and holds it odd while a range delete runs', async () => {
    const start = Atomics.load(kv.writes, 0);
    expect(start % 2).toBe(0);
    kv.write([{ type: 'put', key: key('a'), value: '1' }]);
    const batch = kv.batch();
    batch.put(key('b'), '2');
    batch.commit();
    expect(Atomics.load(kv.writes, 0)).toBe(start + 4);
    // A discarded batch writes nothing and leaves the sequence alone.
    kv.batch().discard();
    expect(Atomics.load(kv.writes, 0)).toBe(start + 4);
    const clearing = kv.clearRange(key('a'), key('c'));
    expect(Atomics.load(kv.writes, 0) % 2).toBe(1);
    await clearing;
    expect(Atomics.load(kv.writes, 0)).toBe(start + 6);
    expect(kv.getMany([key('a'), key('b')])).toEqual([undefined, undefined]);
  });

  it('lets a store attached through the handle read what the owner writes, and nothing else', async () => {
    kv.write([{ type: 'put', key: key('a'), value: 'one' }]);
    const attached = attachKeyValueStore(kv.handle, kv.writes);
    expect(attached.getMany([key('a')])).toEqual(['one']);
    kv.write([{ type: 'put', key: key('b'), value: 'two' }]);
    const reader = attached.range({ gte: key('a'), lt: key('z'), values: true });
    expect(reader.next(10).map(([k, v]) => [k.toString(), v])).toEqual([
      ['a', 'one'],
      ['b', 'two'],
    ]);
    reader.close();
    expect(() => attached.write([{ type: 'put', key: key('c'), value: '3' }])).toThrow(/read-only/);
    expect(() => attached.batch()).toThrow(/read-only/);
    expect(attached.writes).toBe(kv.writes);
    await attached.close();
    expect(() => attached.getMany([key('a')])).toThrow(/closed/);
    // Closing the attachment leaves the owner's database open.
    expect(kv.getMany([key('a')])).toEqual(['one']);
  });
});

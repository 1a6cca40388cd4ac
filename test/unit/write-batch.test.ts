/**
 * The store's write batch (rocks.ts): operations reach RocksDB only on commit, all at once; a
 * discarded batch leaves nothing behind; one batch is open at a time, and the native batch is
 * reused, so a commit never carries a previous batch's operations.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openKeyValueStore, type KeyValueStore } from '../../src/store/rocks.ts';

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
});

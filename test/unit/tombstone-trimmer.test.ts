import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.ts';
import { openKeyValueStore, type KeyValueStore } from '../../src/store/rocks.ts';
import { createTombstoneTrimmer } from '../../src/store/tombstone-trimmer.ts';
import { openViewStore, type Row, type ViewStore } from '../../src/store/view-store.ts';
import { compileViews } from '../../src/views/model.ts';
import customers from '../../views/customers.ts';
import orders from '../../views/orders.ts';
import payments from '../../views/payments.ts';

const ORDERS = compileViews([customers, orders, payments]).find((view) => view.id === 'orders')!;

function order(n: number): Row {
  return {
    orderId: `o-${n}`,
    customerId: 'c-1',
    state: 'CREATED',
    product: 'Widget',
    quantity: 1,
    unitPrice: 2.5,
    currency: 'EUR',
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
  };
}

describe('tombstone trimmer', () => {
  let dir: string;
  let kv: KeyValueStore;
  let store: ViewStore;
  let offset = 0;
  const write = (partition: number, key: string, row: Row | null): void => {
    store.apply(partition, [{ key, row, offset: String(offset) }], String(offset + 1));
    offset++;
  };
  const deletedInLog = (partition: number) =>
    store
      .changesSince(partition, '0', 1000)
      .filter((entry) => entry.deleted)
      .map((entry) => entry.key);

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gw-trimmer-'));
    kv = await openKeyValueStore(dir, { cacheSize: 4 << 20 });
    store = await openViewStore(kv, ORDERS);
    offset = 0;
  });

  afterEach(async () => {
    await kv.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('removes a tombstone marker once it is older than the retention, and only then', async () => {
    let clock = 0;
    const trimmer = createTombstoneTrimmer({
      stores: new Map([['orders', store]]),
      partitionCounts: new Map([['orders', 2]]),
      retentionMs: 1000,
      logger: createLogger('silent'),
      now: () => clock,
    });
    for (let n = 1; n <= 4; n++) write(0, `o-${n}`, order(n));
    write(1, 'o-9', order(9));
    write(0, 'o-1', null);
    write(0, 'o-2', null);
    write(1, 'o-9', null);

    expect(await trimmer.tick()).toBe(0); // t=0: first samples
    clock = 500;
    write(0, 'o-3', null); // applied at t=500
    expect(await trimmer.tick()).toBe(0);
    expect(deletedInLog(0)).toEqual(['o-1', 'o-2', 'o-3']);

    clock = 999;
    expect(await trimmer.tick()).toBe(0); // not yet a full retention
    clock = 1000;
    expect(await trimmer.tick()).toBe(3); // o-1, o-2 (partition 0) and o-9 (partition 1): applied by t=0
    expect(deletedInLog(0)).toEqual(['o-3']);
    expect(deletedInLog(1)).toEqual([]);
    clock = 1500;
    expect(await trimmer.tick()).toBe(1); // o-3, applied by t=500
    expect(deletedInLog(0)).toEqual([]);
    expect(trimmer.removed).toBe(4);

    // Live rows keep their entries; the trim point is what a resume is checked against.
    expect(store.changesSince(0, '0', 1000).map((entry) => entry.key)).toEqual(['o-4']);
    expect(Number(store.tombstonesTrimmedBelow(0))).toBeGreaterThan(6);
  });

  it('continues from the samples it stored after a restart, and forgets them with the partition', async () => {
    let clock = 0;
    const options = { partitionCounts: new Map([['orders', 1]]), retentionMs: 1000, logger: createLogger('silent'), now: () => clock };
    write(0, 'o-1', order(1));
    write(0, 'o-1', null);
    expect(await createTombstoneTrimmer({ ...options, stores: new Map([['orders', store]]) }).tick()).toBe(0); // t=0: o-1's marker sampled

    // Restart at t=600: a new store handle and a new trimmer, with nothing in memory.
    await kv.close();
    kv = await openKeyValueStore(dir, { cacheSize: 4 << 20 });
    store = await openViewStore(kv, ORDERS);
    clock = 600;
    const restarted = createTombstoneTrimmer({ ...options, stores: new Map([['orders', store]]) });
    expect(await restarted.tick()).toBe(0);
    clock = 1000; // one retention after the first sample, not after the restart
    expect(await restarted.tick()).toBe(1);
    expect(deletedInLog(0)).toEqual([]);

    // A dropped partition starts over: its samples go with it.
    write(0, 'o-2', null);
    clock = 1100;
    await restarted.tick();
    expect(store.appliedTimes(0).length).toBeGreaterThan(0);
    await store.dropPartition(0);
    expect(store.appliedTimes(0)).toEqual([]);
  });

  it('trims a backlog in steps that yield to the event loop, and a stop ends a tick between steps', async () => {
    let clock = 0;
    const options = { partitionCounts: new Map([['orders', 1]]), retentionMs: 1000, logger: createLogger('silent'), now: () => clock };
    // 3,500 change-log entries: 2,500 markers of deleted keys and 1,000 live rows.
    const changes = [];
    for (let n = 0; n < 2_500; n++) changes.push({ key: `o-${n}`, row: null, offset: String(offset++) });
    for (let n = 2_500; n < 3_500; n++) changes.push({ key: `o-${n}`, row: order(n), offset: String(offset++) });
    store.apply(0, changes, String(offset));
    const trimmer = createTombstoneTrimmer({ ...options, stores: new Map([['orders', store]]) });
    expect(await trimmer.tick()).toBe(0); // t=0: sampled
    clock = 1000;

    // Other work gets turns of the event loop while the tick runs: a tick in one go gives none.
    let turns = 0;
    let ticking = true;
    const other = (): void => {
      if (!ticking) return;
      turns++;
      setImmediate(other);
    };
    setImmediate(other);
    expect(await trimmer.tick()).toBe(2_500);
    ticking = false;
    expect(turns).toBeGreaterThanOrEqual(3); // 3,500 entries in steps of 1,000
    expect(deletedInLog(0)).toEqual([]);

    // A tick stopped after its first step removes the first step's markers only.
    const more = [];
    for (let n = 0; n < 2_500; n++) more.push({ key: `p-${n}`, row: null, offset: String(offset++) });
    store.apply(0, more, String(offset));
    const second = createTombstoneTrimmer({ ...options, stores: new Map([['orders', store]]) });
    clock = 2000;
    expect(await second.tick()).toBe(0); // sampled
    clock = 3000;
    const running = second.tick();
    expect(await second.tick()).toBe(0); // a tick while one runs does nothing
    second.stop();
    expect(await running).toBe(1_000);
    expect(store.changesSince(0, '0', 10_000).filter((entry) => entry.deleted)).toHaveLength(1_500);
  });
});

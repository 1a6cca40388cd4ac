/**
 * What a tick of the tombstone trimmer (src/store/tombstone-trimmer.ts) costs the event loop once
 * a retention has passed over a large load: the orders view in a fresh store, PARTITIONS
 * partitions of TRIM_ENTRIES change-log entries each (every tenth key deleted again, so a tenth
 * of the entries are markers), then ticks of a trimmer with a 1 s retention on a fake clock, each
 * over a backlog of more than one tick's `maxEntriesPerTick` (10,000) per partition.
 *
 *   node test/bench/tombstone-trim.ts          (TRIM_ENTRIES per partition, default 60000)
 *
 * Per tick: markers removed, wall time, and the longest time the event loop went without a turn
 * (a `setImmediate` chain running beside the tick). Prints one JSON line per tick. Figures only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../../src/log.ts';
import { openKeyValueStore } from '../../src/store/rocks.ts';
import { createTombstoneTrimmer } from '../../src/store/tombstone-trimmer.ts';
import { openViewStore, type Row, type RowChange } from '../../src/store/view-store.ts';
import { compileViews } from '../../src/views/model.ts';
import customers from '../../views/customers.ts';
import orders from '../../views/orders.ts';
import payments from '../../views/payments.ts';
import { order } from '../support/data.ts';

const PARTITIONS = 6;
const ENTRIES = Number(process.env.TRIM_ENTRIES ?? 60_000);
const TICKS = 3;

const view = compileViews([customers, orders, payments]).find((candidate) => candidate.id === 'orders')!;
const row = (key: string, n: number): Row => order(n, { orderId: key }) as Row;

const dir = mkdtempSync(path.join(os.tmpdir(), 'gw-tombstone-trim-'));
try {
  const kv = await openKeyValueStore(dir);
  const store = await openViewStore(kv, view);
  // 500 new keys per batch, then every tenth of them deleted again: 550 entries per batch.
  for (let partition = 0; partition < PARTITIONS; partition++) {
    let offset = 0;
    for (let first = 0; offset < ENTRIES; first += 500) {
      const changes: RowChange[] = [];
      for (let n = first; n < first + 500; n++)
        changes.push({ key: `o-${partition}-${n}`, row: row(`o-${partition}-${n}`, n), offset: String(offset++) });
      for (let n = first; n < first + 500; n += 10) changes.push({ key: `o-${partition}-${n}`, row: null, offset: String(offset++) });
      store.apply(partition, changes, String(offset));
    }
  }
  let clock = 0;
  const trimmer = createTombstoneTrimmer({
    stores: new Map([['orders', store]]),
    partitionCounts: new Map([['orders', PARTITIONS]]),
    retentionMs: 1000,
    logger: createLogger('silent'),
    now: () => clock,
  });
  await trimmer.tick(); // t=0: every partition sampled at its end
  for (let tick = 0; tick < TICKS; tick++) {
    clock += 1000;
    const started = performance.now();
    let last = started;
    let longest = 0;
    let running = true;
    const turn = (): void => {
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
      if (running) setImmediate(turn);
    };
    setImmediate(turn);
    const removed = await trimmer.tick();
    running = false;
    const ended = performance.now();
    longest = Math.max(longest, ended - last);
    const ms = (value: number): number => Math.round(value * 10) / 10;
    console.log(
      JSON.stringify({
        tick,
        partitions: PARTITIONS,
        entriesPerPartition: ENTRIES,
        removed,
        wallMs: ms(ended - started),
        longestWithoutTurnMs: ms(longest),
      }),
    );
  }
  await kv.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

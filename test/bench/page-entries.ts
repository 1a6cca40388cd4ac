/**
 * Index entries one grid page reads, by variant: the bench's grid filters and orders run through
 * `readPage` directly on a gateway's store (stopped: the store's lock is held while it runs),
 * without the row cache or joins, with the entries read (`KeyValueStore.stats`) and µs per page
 * over 2,000 pages each. The 50 rows' own reads are subtracted from the entries.
 *
 *   node test/bench/page-entries.ts <DATA_DIR of a gateway caught up on the bench's topics>
 */
import { readPage, type PageRequest } from '../../src/query/page.ts';
import { openKeyValueStore } from '../../src/store/rocks.ts';
import { openViewStore } from '../../src/store/view-store.ts';
import { compileViews } from '../../src/views/model.ts';
import customers from '../../views/customers.ts';
import orders from '../../views/orders.ts';
import payments from '../../views/payments.ts';
import { GRID_PAGES as variants } from './queries.ts';

const PAGES = 2_000;
const LIMIT = 50;
const directory = process.argv[2];
if (!directory) throw new Error('usage: node test/bench/page-entries.ts <DATA_DIR>');
const view = compileViews([orders, customers, payments] as never, 'bench.').find((candidate) => candidate.id === 'orders')!;
const kv = await openKeyValueStore(directory);
try {
  const store = await openViewStore(kv, view, { rowCache: 0 });
  const partitions = Array.from({ length: 6 }, (_, partition) => partition);
  for (const [name, variant] of variants) {
    const request: PageRequest = { ...variant, limit: LIMIT, backward: false };
    const before = kv.stats.entriesRead;
    let rows = 0;
    const started = process.hrtime.bigint();
    for (let i = 0; i < PAGES; i++) {
      const session = store.session();
      try {
        rows += readPage(store, session, partitions, request).rows.length;
      } finally {
        session.close();
      }
    }
    const us = Number(process.hrtime.bigint() - started) / 1e3 / PAGES;
    const entries = (kv.stats.entriesRead - before - rows) / PAGES;
    console.log(`${name.padEnd(46)} ${rows / PAGES} rows, ${entries.toFixed(0)} index entries, ${us.toFixed(0)} µs per page`);
  }
} finally {
  await kv.close();
}

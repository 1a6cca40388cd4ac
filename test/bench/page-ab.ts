/**
 * `node test/bench/page-ab.ts <DATA_DIR> <tree A> <tree B>`: the grid rotation's reads from the
 * store, by two source trees of the gateway in one process, alternating in blocks of 100, so a
 * change to the read path is measured against its parent with the machine's load moving both
 * alike (runs of separate processes on this machine differ by a fifth from one to the next).
 *
 * Each tree reads its own copy of the store: `DATA_DIR` (a gateway's, caught up on the bench's
 * topics, the gateway stopped) is copied next to itself with its table files hard-linked, and
 * the copy is removed at the end. Per grid of the rotation, two reads: the orders' page through
 * the tree's `readPage`, and the payments of that page's 50 orders through its local reads (the
 * `payments` relation of a grid row), both with the gateway's default row cache (ROW_CACHE_ROWS,
 * as the read workers have it). Prints the median µs of each tree after two warm-up rounds, and
 * B/A.
 *
 *   PAGE_AB_ROUNDS   rounds (default 20)
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/config.ts';
import type { PageRequest } from '../../src/query/page.ts';
import { GRID_PAGES } from './queries.ts';
import { linkedStoreCopy } from './store-copy.ts';

const BLOCK = 100;
const WARM_UP = 2;
const PARTITIONS = [0, 1, 2, 3, 4, 5];
const rounds = Number(process.env.PAGE_AB_ROUNDS ?? 20);
const [dataDir, ...trees] = process.argv.slice(2);
if (!dataDir || trees.length !== 2) throw new Error('usage: node test/bench/page-ab.ts <DATA_DIR> <tree A> <tree B>');

interface Session {
  close(): void;
}

/** One tree's read path, typed by what this script calls (each tree brings its own modules). */
interface Reads {
  page(request: PageRequest): Array<{ key: string }>;
  payments(orderIds: readonly string[]): unknown;
  close(): Promise<void>;
}

/** The read path of one tree over one copy of the store, through that tree's own modules. */
async function open(tree: string, directory: string): Promise<Reads> {
  const root = path.resolve(tree);
  const load = (file: string) => import(path.join(root, file));
  const { readPage } = await load('src/query/page.ts');
  const { createLocalReads } = await load('src/query/local-reads.ts');
  const { openKeyValueStore } = await load('src/store/rocks.ts');
  const { openViewStore } = await load('src/store/view-store.ts');
  const { compileViews } = await load('src/views/model.ts');
  const declarations = await Promise.all(['orders', 'customers', 'payments'].map(async (name) => (await load(`views/${name}.ts`)).default));
  const views: Array<{ id: string }> = compileViews(declarations, 'bench.');
  const kv = await openKeyValueStore(directory);
  const rowCache = loadConfig({ KAFKA_BROKERS: '127.0.0.1:9092' }).rowCacheRows;
  const stores = new Map<string, { session(): Session }>();
  for (const view of views) stores.set(view.id, await openViewStore(kv, view, { rowCache }));
  const orders = stores.get('orders')!;
  const local = createLocalReads(stores);
  return {
    page(request) {
      const session = orders.session();
      try {
        return readPage(orders, session, PARTITIONS, request).rows;
      } finally {
        session.close();
      }
    },
    payments: (orderIds) => local.related('payments', PARTITIONS, 'orderId', orderIds, 100, undefined),
    close: () => kv.close(),
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const copy = linkedStoreCopy(dataDir, 'page-ab');
try {
  const sides = [await open(trees[0]!, dataDir), await open(trees[1]!, copy)];
  try {
    const measures = GRID_PAGES.flatMap(([name, grid]) => {
      const request = { ...grid, limit: 50, backward: false };
      const orderIds = sides[0]!.page(request).map((row) => row.key);
      return [
        { name: `${name}: page`, run: (side: Reads) => side.page(request) },
        { name: `${name}: payments of its ${orderIds.length}`, run: (side: Reads) => side.payments(orderIds) },
      ];
    });
    const times = measures.map(() => [[], []] as [number[], number[]]);
    for (let round = 0; round < rounds; round++) {
      measures.forEach((measure, i) => {
        // Each tree goes first in every other round.
        for (const side of round % 2 === 0 ? [0, 1] : [1, 0]) {
          const started = process.hrtime.bigint();
          for (let n = 0; n < BLOCK; n++) measure.run(sides[side]!);
          if (round >= WARM_UP) times[i]![side]!.push(Number(process.hrtime.bigint() - started) / 1e3 / BLOCK);
        }
      });
    }
    const sums = [0, 0];
    const line = (name: string, a: number, b: number) =>
      console.log(`${name.padEnd(62)} A ${a.toFixed(0).padStart(5)} µs  B ${b.toFixed(0).padStart(5)} µs  B/A ${(b / a).toFixed(3)}`);
    measures.forEach((measure, i) => {
      const [a, b] = times[i]!.map(median) as [number, number];
      sums[0]! += a;
      sums[1]! += b;
      line(measure.name, a, b);
    });
    line('all', sums[0]!, sums[1]!);
  } finally {
    for (const side of sides) await side.close();
  }
} finally {
  rmSync(copy, { recursive: true, force: true });
}

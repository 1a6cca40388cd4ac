/**
 * `node test/bench/page-ab.ts <DATA_DIR> <tree A> <tree B>`: the grid rotation's page reads of two
 * source trees of the gateway, in one process, alternating in blocks of 100 pages per grid, so a
 * change to the read path is measured against its parent with the machine's load moving both
 * alike (runs of separate processes on this machine differ by a fifth from one to the next).
 *
 * Each tree reads its own copy of the store: `DATA_DIR` (a gateway's, caught up on the bench's
 * topics, the gateway stopped) is copied next to itself with its table files hard-linked, and
 * the copy is removed at the end. Pages go through each tree's `readPage` with the gateway's
 * default row cache (ROW_CACHE_ROWS, as the read workers have it). Prints per grid the median µs
 * per page of each tree after two warm-up rounds, and B/A.
 *
 *   PAGE_AB_ROUNDS   rounds (default 20)
 */
import { copyFileSync, linkSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/config.ts';
import type { PageRequest } from '../../src/query/page.ts';
import { GRID_PAGES } from './queries.ts';

const BLOCK = 100;
const WARM_UP = 2;
const rounds = Number(process.env.PAGE_AB_ROUNDS ?? 20);
const [dataDir, ...trees] = process.argv.slice(2);
if (!dataDir || trees.length !== 2) throw new Error('usage: node test/bench/page-ab.ts <DATA_DIR> <tree A> <tree B>');

interface Reads {
  readPage(store: unknown, session: unknown, partitions: readonly number[], request: PageRequest): unknown;
  store: { session(): { close(): void } };
  close(): Promise<void>;
}

/** The read path of one tree over one copy of the store, through that tree's own modules. */
async function open(tree: string, directory: string): Promise<Reads> {
  const root = path.resolve(tree);
  const { readPage } = await import(path.join(root, 'src/query/page.ts'));
  const { openKeyValueStore } = await import(path.join(root, 'src/store/rocks.ts'));
  const { openViewStore } = await import(path.join(root, 'src/store/view-store.ts'));
  const { compileViews } = await import(path.join(root, 'src/views/model.ts'));
  const declarations = await Promise.all(
    ['orders', 'customers', 'payments'].map(async (name) => (await import(path.join(root, `views/${name}.ts`))).default),
  );
  const view = compileViews(declarations, 'bench.').find((candidate: { id: string }) => candidate.id === 'orders');
  const kv = await openKeyValueStore(directory);
  const store = await openViewStore(kv, view, { rowCache: loadConfig({ KAFKA_BROKERS: '127.0.0.1:9092' }).rowCacheRows });
  return { readPage, store, close: () => kv.close() };
}

const copy = mkdtempSync(`${path.resolve(dataDir)}.page-ab-`);
try {
  for (const name of readdirSync(dataDir)) {
    if (name === 'LOCK') continue;
    if (name.endsWith('.sst')) linkSync(path.join(dataDir, name), path.join(copy, name));
    else copyFileSync(path.join(dataDir, name), path.join(copy, name));
  }
  const sides = [await open(trees[0]!, dataDir), await open(trees[1]!, copy)];
  try {
    const partitions = [0, 1, 2, 3, 4, 5];
    const block = (side: Reads, request: PageRequest): number => {
      const started = process.hrtime.bigint();
      for (let i = 0; i < BLOCK; i++) {
        const session = side.store.session();
        try {
          side.readPage(side.store, session, partitions, request);
        } finally {
          session.close();
        }
      }
      return Number(process.hrtime.bigint() - started) / 1e3 / BLOCK;
    };
    const times = GRID_PAGES.map(() => [[], []] as [number[], number[]]);
    for (let round = 0; round < rounds; round++) {
      GRID_PAGES.forEach(([, grid], i) => {
        const request = { ...grid, limit: 50, backward: false };
        // Each tree goes first in every other round.
        for (const side of round % 2 === 0 ? [0, 1] : [1, 0]) {
          const took = block(sides[side]!, request);
          if (round >= WARM_UP) times[i]![side]!.push(took);
        }
      });
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const sums = [0, 0];
    GRID_PAGES.forEach(([name], i) => {
      const [a, b] = times[i]!.map(median) as [number, number];
      sums[0]! += a;
      sums[1]! += b;
      console.log(`${name.padEnd(46)} A ${a.toFixed(0).padStart(5)} µs  B ${b.toFixed(0).padStart(5)} µs  B/A ${(b / a).toFixed(3)}`);
    });
    console.log(
      `${'all six'.padEnd(46)} A ${sums[0]!.toFixed(0).padStart(5)} µs  B ${sums[1]!.toFixed(0).padStart(5)} µs  B/A ${(sums[1]! / sums[0]!).toFixed(3)}`,
    );
  } finally {
    for (const side of sides) await side.close();
  }
} finally {
  rmSync(copy, { recursive: true, force: true });
}

/**
 * `node test/bench/http-ab.ts <DATA_DIR> <tree A> <tree B>`: HTTP load on two source trees of the
 * gateway, both running at once over their own copies of one caught-up store, in short wrk bursts
 * that take turns (A then B, then B then A), so a change on the request path is measured against
 * its parent while the shared machine's load moves both alike. Separate runs of one revision
 * differ by a fifth from one to the next on the bench machine; bursts seconds apart do not.
 *
 * Per burst: requests/s, p99, the share of the machine's CPU left idle (/proc/stat), and the CPU
 * time per request of each thread group (the main thread, the read workers, V8's helpers) from
 * /proc. At the end, per tree the medians, and the ratios B/A of the rounds with their median,
 * and the read workers' task counts (`gw_read_worker_tasks_total`: answered, or handed back to
 * the main thread). Each tree comes first in every other round, so a cost of going first or
 * second cancels out in the median.
 *
 * `DATA_DIR` is a stopped gateway's store, caught up on the bench's topics (TOPIC_PREFIX `bench.`)
 * of the broker `HTTP_AB_BROKERS`; each tree runs over a copy with the table files hard-linked
 * (./store-copy.ts), in a consumer group of its own, and the copies are removed at the end.
 * `<DATA_DIR A>,<DATA_DIR B>` gives each tree a store of its own, for trees whose store layouts
 * differ (`AB_KEEP_DIR` of ./ingest-ab.ts builds both the same way).
 *
 *   HTTP_AB_BROKERS      broker, default 127.0.0.1:49392
 *   HTTP_AB_LOAD         lookups (order(orderId) with variables, ids drawn from ord-1 to
 *                        ord-HTTP_AB_ORDERS) or grid (the bench's rotation without totalCount,
 *                        read fresh); default lookups
 *   HTTP_AB_ORDERS       default 1000000 (the bench's data set)
 *   HTTP_AB_CONNECTIONS  wrk connections, default 32 (1 runs one wrk thread, else 2)
 *   HTTP_AB_ROUNDS       default 8
 *   HTTP_AB_SECONDS      seconds per burst, default 4 (and 3 s of unmeasured warm-up per tree)
 *   HTTP_AB_UPDATES      order updates per second written to the topic from the warm-up to the
 *                        end (./order-updates.ts), which both gateways ingest as they serve;
 *                        default 0
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { onCleanup, runMain } from './cleanup.ts';
import { runWrk, writeGridScript, writeLookupScript } from './http-load.ts';
import { startOrderUpdates } from './order-updates.ts';
import { machineTicks, threadSeconds } from './proc.ts';
import { gridVariants } from './queries.ts';
import { startGateway, type ServerProcess } from './servers.ts';
import { defaultCustomers, TOPIC_PREFIX } from './settings.ts';
import { linkedStoreCopy } from './store-copy.ts';

const [dataDir, ...trees] = process.argv.slice(2);
const brokers = process.env.HTTP_AB_BROKERS ?? '127.0.0.1:49392';
const load = process.env.HTTP_AB_LOAD ?? 'lookups';
const orders = Number(process.env.HTTP_AB_ORDERS ?? 1_000_000);
const connections = Number(process.env.HTTP_AB_CONNECTIONS ?? 32);
const rounds = Number(process.env.HTTP_AB_ROUNDS ?? 8);
const seconds = Number(process.env.HTTP_AB_SECONDS ?? 4);
const updates = Number(process.env.HTTP_AB_UPDATES ?? 0);
const WARM_UP_SECONDS = 3;

interface Burst {
  readonly tree: number;
  readonly round: number;
  readonly qps: number;
  readonly p99Ms: number;
  readonly failed: number;
  /** Share of the machine's CPU time that was idle during the burst, %. */
  readonly idle: number;
  /** CPU µs per request by thread name. */
  readonly cpu: Record<string, number>;
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

/** Waits until the gateway serves every partition from its store (its /readyz says ready). */
async function ready(server: ServerProcess): Promise<void> {
  const deadline = Date.now() + 300_000;
  while (Date.now() < deadline) {
    const response = await fetch(`${server.url}/readyz`).catch(() => undefined);
    if (response?.ok) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`${server.url} was not ready within 300 s (see ${server.logFile})`);
}

async function main(): Promise<void> {
  if (!dataDir || trees.length !== 2) throw new Error('usage: node test/bench/http-ab.ts <DATA_DIR> <tree A> <tree B>');
  if (load !== 'lookups' && load !== 'grid') throw new Error(`HTTP_AB_LOAD is lookups or grid, not ${load}`);
  const work = mkdtempSync(path.join(os.tmpdir(), 'gw-http-ab-'));
  onCleanup('http-ab work dir', () => rmSync(work, { recursive: true, force: true }));
  const script = path.join(work, `${load}.lua`);
  if (load === 'grid') writeGridScript(script, gridVariants('gateway', false), { fresh: true });
  else {
    const ids = path.join(work, 'ids.txt');
    writeFileSync(ids, Array.from({ length: orders }, (_, i) => `ord-${String(i + 1).padStart(10, '0')}`).join('\n'));
    writeLookupScript(script, { file: ids });
  }
  const servers: ServerProcess[] = [];
  for (const [index, tree] of trees.entries()) {
    const stores = dataDir.split(',');
    const copy = linkedStoreCopy(stores[Math.min(index, stores.length - 1)]!, `http-ab-${index}`);
    onCleanup(`store copy ${copy}`, () => rmSync(copy, { recursive: true, force: true }));
    const server = await startGateway({
      brokers,
      dataDir: copy,
      groupId: `gw-http-ab-${process.pid}-${index}`,
      logFile: path.join(work, `gateway-${index}.log`),
      root: path.resolve(tree),
    });
    onCleanup(`gateway ${tree}`, async () => void (await server.stop()));
    servers.push(server);
  }
  await Promise.all(servers.map(ready));
  if (updates > 0) {
    const writer = startOrderUpdates({
      brokers,
      topic: `${TOPIC_PREFIX}orders`,
      rate: updates,
      orders,
      customers: defaultCustomers(orders),
    });
    onCleanup('order updates', () => writer.stop());
  }
  const wrk = (server: ServerProcess, durationSeconds: number) =>
    runWrk({ url: server.url, script, threads: connections === 1 ? 1 : 2, connections, durationSeconds });
  for (const server of servers) await wrk(server, WARM_UP_SECONDS);

  const bursts: Burst[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const tree of round % 2 === 0 ? [0, 1] : [1, 0]) {
      const server = servers[tree]!;
      const before = threadSeconds(server.pid);
      const ticksBefore = machineTicks();
      const result = await wrk(server, seconds);
      const ticksAfter = machineTicks();
      const after = threadSeconds(server.pid);
      const idle = Math.round((1000 * (ticksAfter.idle - ticksBefore.idle)) / Math.max(1, ticksAfter.total - ticksBefore.total)) / 10;
      const cpu: Record<string, number> = {};
      for (const [name, total] of Object.entries(after)) {
        const used = ((total - (before[name] ?? 0)) * 1e6) / Math.max(1, result.requests);
        if (used >= 1) cpu[name] = Math.round(used * 10) / 10;
      }
      const burst = { tree, round, qps: Math.round(result.qps), p99Ms: Math.round(result.p99Ms * 100) / 100, failed: result.failed, idle, cpu };
      bursts.push(burst);
      process.stdout.write(`${JSON.stringify({ ...burst, tree: trees[tree] })}\n`);
    }
  }

  const of = (tree: number) => bursts.filter((burst) => burst.tree === tree);
  // Thread groups that used at least 1 µs per request in most bursts.
  const names = [...new Set(bursts.flatMap((burst) => Object.keys(burst.cpu)))]
    .filter((thread) => median(bursts.map((burst) => burst.cpu[thread] ?? 0)) >= 1)
    .sort();
  const lines = [`${load}, ${connections} connection(s), ${rounds} rounds of ${seconds} s per tree (medians; CPU in µs per request)`];
  for (const [tree, name] of trees.entries()) {
    const mine = of(tree);
    const cpu = names.map((thread) => `${thread} ${median(mine.map((burst) => burst.cpu[thread] ?? 0)).toFixed(1)}`).join(', ');
    lines.push(
      `  ${tree === 0 ? 'A' : 'B'} ${name}: ${median(mine.map((burst) => burst.qps))} req/s, p99 ${median(mine.map((burst) => burst.p99Ms))} ms, machine idle ${median(mine.map((burst) => burst.idle))} %, ${cpu}`,
    );
  }
  const ratios = (pick: (burst: Burst) => number) => {
    const [a, b] = [of(0), of(1)];
    const each = a.map((burst, i) => pick(b[i]!) / pick(burst)).filter((ratio) => Number.isFinite(ratio));
    return `${median(each).toFixed(3)} (rounds ${each.map((ratio) => ratio.toFixed(2)).join(' ')})`;
  };
  lines.push(`  B/A req/s: ${ratios((burst) => burst.qps)}`);
  // Who answered, over the whole run: read workers, or the main thread after a worker handed back.
  for (const [tree, server] of servers.entries()) {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const tasks = text.split('\n').filter((line) => line.startsWith('gw_read_worker_tasks_total'));
    lines.push(`  ${tree === 0 ? 'A' : 'B'} ${tasks.map((line) => line.replace('gw_read_worker_tasks_total', '')).join(', ')}`);
  }
  for (const thread of names) lines.push(`  B/A ${thread} CPU per request: ${ratios((burst) => burst.cpu[thread] ?? Number.NaN)}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

await runMain(main);

/**
 * `node test/bench/page-time-by-clients.ts <DATA_DIR>`: how long a grid page takes to execute
 * with 1, 2, 4 and 32 clients on one gateway. The bench's grid rotation without totalCount, read
 * fresh, goes to a gateway over a copy of a caught-up store in wrk runs of
 * `PAGE_TIME_SECONDS` each, the client counts taking turns; per run the pages per second and the
 * execution time per page from `gw_graphql_request_duration_seconds` (which the read worker's
 * answers report: the compiled query's run, without the answer's JSON and the hand-overs).
 *
 * `DATA_DIR` is a stopped gateway's store caught up on the bench's topics of the broker
 * `PAGE_TIME_BROKERS` (default 127.0.0.1:49392); the copy (./store-copy.ts) is removed at the end.
 *
 *   PAGE_TIME_BROKERS=127.0.0.1:39192 PAGE_TIME_ROUNDS=2 node test/bench/page-time-by-clients.ts <DATA_DIR>
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { onCleanup, runMain } from './cleanup.ts';
import { runWrk, writeGridScript } from './http-load.ts';
import { gridVariants } from './queries.ts';
import { startGateway, type ServerProcess } from './servers.ts';
import { linkedStoreCopy } from './store-copy.ts';

const dataDir = process.argv[2];
const brokers = process.env.PAGE_TIME_BROKERS ?? '127.0.0.1:49392';
const seconds = Number(process.env.PAGE_TIME_SECONDS ?? 6);
const rounds = Number(process.env.PAGE_TIME_ROUNDS ?? 2);
const CLIENTS = [1, 2, 4, 32];

/** Sum and count of the gateway's request-duration histogram over every operation. */
async function durations(server: ServerProcess): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  let sum = 0;
  let count = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('gw_graphql_request_duration_seconds_sum')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    if (line.startsWith('gw_graphql_request_duration_seconds_count')) count += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return { sum, count };
}

async function main(): Promise<void> {
  if (!dataDir) throw new Error('usage: node test/bench/page-time-by-clients.ts <DATA_DIR>');
  const work = mkdtempSync(path.join(os.tmpdir(), 'gw-page-time-'));
  onCleanup('page-time work dir', () => rmSync(work, { recursive: true, force: true }));
  const script = path.join(work, 'grid.lua');
  writeGridScript(script, gridVariants('gateway', false), { fresh: true });
  const copy = linkedStoreCopy(dataDir, 'page-time');
  onCleanup(`store copy ${copy}`, () => rmSync(copy, { recursive: true, force: true }));
  const server = await startGateway({ brokers, dataDir: copy, groupId: `gw-page-time-${process.pid}`, logFile: path.join(work, 'gateway.log') });
  onCleanup('gateway', async () => void (await server.stop()));
  const deadline = Date.now() + 300_000;
  while (!(await fetch(`${server.url}/readyz`).catch(() => undefined))?.ok) {
    if (Date.now() > deadline) throw new Error(`the gateway was not ready within 300 s (see ${server.logFile})`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const wrk = (connections: number, durationSeconds: number) =>
    runWrk({ url: server.url, script, threads: Math.min(2, connections), connections, durationSeconds });
  await wrk(32, 4);
  console.log(`grid rotation read fresh, ${seconds} s per run: pages/s, execution µs per page`);
  for (let round = 0; round < rounds; round++) {
    for (const clients of round % 2 === 0 ? CLIENTS : [...CLIENTS].reverse()) {
      const before = await durations(server);
      const result = await wrk(clients, seconds);
      const after = await durations(server);
      const perPage = ((after.sum - before.sum) / Math.max(1, after.count - before.count)) * 1e6;
      console.log(`  ${String(clients).padStart(2)} clients: ${result.qps.toFixed(0).padStart(5)} pages/s, ${perPage.toFixed(0)} µs`);
    }
  }
}

await runMain(main);

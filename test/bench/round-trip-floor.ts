/**
 * The floor under one client's grid page on this machine: what the round trip costs when the
 * page itself costs nothing. Two measurements, each server alone in turn:
 *
 * - Hand-overs between threads: the main thread posts a task like the read worker's (a grid
 *   query's text) to a worker thread, which spins for `work` µs and posts back an answer of
 *   `ROUND_TRIP_ANSWER_BYTES`; the main thread waits for it in its event loop (as the gateway
 *   does) or polls the port (`receiveMessageOnPort`). The time beyond `work` is what the two
 *   wake-ups and the copies cost.
 * - HTTP with one client: `wrk -t1 -c1` posts the bench's grid rotation (read fresh) to a
 *   `node:http` server that answers every request with a fixed body of the same size, either on
 *   its main thread or after a round trip through a worker thread that does no work.
 *
 *   node test/bench/round-trip-floor.ts
 *   ROUND_TRIP_ROUNDS=5 ROUND_TRIP_SECONDS=4 ROUND_TRIP_ANSWER_BYTES=17000 node test/bench/round-trip-floor.ts
 *
 * Servers listen on 127.0.0.1; every loop is bounded by a count or a duration. BENCHMARKS.md,
 * "What the unmet targets would take", has the figures.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { median, runWrk, writeGridScript } from './http-load.ts';
import { gridVariants } from './queries.ts';

const rounds = Number(process.env.ROUND_TRIP_ROUNDS ?? 3);
const seconds = Number(process.env.ROUND_TRIP_SECONDS ?? 4);
const answerBytes = Number(process.env.ROUND_TRIP_ANSWER_BYTES ?? 17_000);
const handOvers = Number(process.env.ROUND_TRIP_HANDOVERS ?? 3_000);
const WORKS_US = [0, 250, 750];

/** A worker that spins for `work` µs per task and answers with `answerBytes` of JSON text. */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const port = workerData.port;
const answer = JSON.stringify({ data: { pad: 'x'.repeat(Math.max(0, workerData.answerBytes - 20)) } });
port.on('message', (task) => {
  const end = performance.now() + task.work / 1000;
  while (performance.now() < end);
  port.postMessage({ id: task.id, text: answer });
});
`;

interface Channel {
  readonly port: MessagePort;
  readonly worker: Worker;
}

function startWorker(): Channel {
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { port: port2, answerBytes }, transferList: [port2] });
  return { port: port1, worker };
}

const TASK_QUERY = gridVariants('gateway', false)[0]!.query;

/** µs per round trip and main-thread CPU µs per round trip, waiting in the event loop. */
async function sleepingRoundTrips(channel: Channel, work: number): Promise<{ wall: number; cpu: number }> {
  const { port } = channel;
  const cpu = process.threadCpuUsage();
  const started = performance.now();
  for (let id = 0; id < handOvers; id++) {
    await new Promise<void>((resolve) => {
      port.once('message', () => resolve());
      port.postMessage({ id, work, query: TASK_QUERY, variables: {} });
    });
  }
  const used = process.threadCpuUsage(cpu);
  return { wall: ((performance.now() - started) * 1000) / handOvers, cpu: (used.user + used.system) / handOvers };
}

/** The same, polling the port instead of waiting in the event loop. */
function pollingRoundTrips(channel: Channel, work: number): { wall: number; cpu: number } {
  const { port } = channel;
  const cpu = process.threadCpuUsage();
  const started = performance.now();
  for (let id = 0; id < handOvers; id++) {
    port.postMessage({ id, work, query: TASK_QUERY, variables: {} });
    while (receiveMessageOnPort(port) === undefined);
  }
  const used = process.threadCpuUsage(cpu);
  return { wall: ((performance.now() - started) * 1000) / handOvers, cpu: (used.user + used.system) / handOvers };
}

/** A server that answers every POST with the fixed body, itself or through `channel`. */
async function startServer(channel: Channel | undefined): Promise<{ server: Server; url: string }> {
  const body = JSON.stringify({ data: { pad: 'x'.repeat(Math.max(0, answerBytes - 20)) } });
  const port = channel?.port;
  const waiting = new Map<number, (text: string) => void>();
  port?.on('message', (reply: { id: number; text: string }) => {
    waiting.get(reply.id)?.(reply.text);
    waiting.delete(reply.id);
  });
  let next = 0;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const send = (text: string): void => {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(text);
      };
      if (!port) return send(body);
      const id = next++;
      waiting.set(id, send);
      port.postMessage({ id, work: 0, query: Buffer.concat(chunks).toString('utf8'), variables: {} });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const fmt = (values: number[]): string => `${median(values).toFixed(1)} (${values.map((value) => value.toFixed(0)).join(' / ')})`;

const channel = startWorker();
await new Promise((resolve) => setTimeout(resolve, 300));
console.log(`hand-overs (${handOvers} per round, answer ${answerBytes} bytes), µs per round trip beyond the work: median (rounds)`);
for (const work of WORKS_US) {
  const sleeping: number[] = [];
  const polling: number[] = [];
  const sleepingCpu: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const a = await sleepingRoundTrips(channel, work);
    const b = pollingRoundTrips(channel, work);
    sleeping.push(a.wall - work);
    sleepingCpu.push(a.cpu);
    polling.push(b.wall - work);
  }
  console.log(`  work ${work} µs: waiting in the event loop ${fmt(sleeping)}, main-thread CPU ${fmt(sleepingCpu)}; polling the port ${fmt(polling)}`);
}

const work = mkdtempSync(path.join(os.tmpdir(), 'gw-round-trip-'));
try {
  const script = path.join(work, 'grid.lua');
  writeGridScript(script, gridVariants('gateway', false), { fresh: true });
  const direct = await startServer(undefined);
  const handed = await startServer(startWorker());
  const results = { direct: [] as number[], handed: [] as number[], directP99: [] as number[], handedP99: [] as number[] };
  for (const server of [direct, handed]) await runWrk({ url: server.url, script, threads: 1, connections: 1, durationSeconds: 1 });
  for (let round = 0; round < rounds; round++) {
    const order =
      round % 2 === 0
        ? ([
            ['direct', direct],
            ['handed', handed],
          ] as const)
        : ([
            ['handed', handed],
            ['direct', direct],
          ] as const);
    for (const [name, server] of order) {
      const result = await runWrk({ url: server.url, script, threads: 1, connections: 1, durationSeconds: seconds });
      results[name].push(1e6 / result.qps);
      results[`${name}P99`].push(result.p99Ms * 1000);
    }
  }
  console.log(`HTTP, 1 client (wrk -t1 -c1, the grid rotation's requests, ${answerBytes}-byte answers), µs per request: median (rounds)`);
  console.log(`  answered on the main thread: ${fmt(results.direct)}, p99 ${fmt(results.directP99)}`);
  console.log(`  through a worker doing nothing: ${fmt(results.handed)}, p99 ${fmt(results.handedP99)}`);
  for (const server of [direct, handed]) server.server.close();
} finally {
  rmSync(work, { recursive: true, force: true });
}
await channel.worker.terminate();
process.exit(0);

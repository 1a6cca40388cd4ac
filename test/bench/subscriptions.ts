/**
 * Subscription benchmark (`npm run bench:subscriptions`): many concurrent subscriptions on one
 * gateway instance under a steady update rate. Prints figures; it is not a test and does not fail
 * on a missed target.
 *
 * What it does, in one run:
 *   1. starts its own broker (deploy/kafka/kafka.sh, fresh state dir, port BENCH_KAFKA_PORT) and
 *      one gateway child (`node src/main.ts`, PORT=0, topics `sbench.*`, a unique GROUP_ID);
 *   2. seeds BENCH_ORDERS orders (ord-0 …) with the project's producer and waits until the
 *      gateway has applied them (`gw_ingest_applied_total`), then sends WARMUP_SECONDS of
 *      updates without subscriptions (broker, producer and gateway warm up);
 *   3. baseline phase: BASELINE_SUBS subscriptions (1% list, the rest entity), then
 *      BASELINE_SECONDS of updates at BENCH_RATE/s;
 *   4. main phase: SUB_COUNT subscriptions over SUB_CONNECTIONS connections (SUB_LISTS
 *      `ordersChanged(filter: {state: {eq: VALIDATED}}, first: 1)`, the rest `orderChanged` on
 *      distinct keys), idle for IDLE_SECONDS, then BENCH_SECONDS of updates at BENCH_RATE/s;
 *   5. reads the orders topic back with kcat: every update in the log once, per key in send order.
 *
 * The subscribers live in a separate child process (this file with the argument `client`),
 * speaking graphql-transport-ws over raw `ws` sockets, so their CPU is not the gateway's. It opens
 * every connection first and subscribes once all are acknowledged, at most SUB_OPEN_WINDOW
 * subscriptions waiting for their first event at a time (a burst of subscribes from early
 * connections can otherwise delay a late connection's init past graphql-ws's 3 s limit). Each
 * update carries its send time (`updatedAt`, Date.now() of the batch) and a unique sequence number
 * (`quantity`); the client measures produce-to-client latency as its Date.now() at receipt minus
 * `updatedAt` (same machine clock). Updates go to seeded-random keys among all orders, in batches
 * of BENCH_BATCH records every BENCH_BATCH/BENCH_RATE seconds. About 1% of updates set the state
 * VALIDATED (the others a random other state), so list subscribers get an UPSERT when a row
 * enters VALIDATED and a REMOVE when it leaves.
 *
 * Checks: every update to a subscribed key must reach that key's entity subscription exactly once
 * (list subscriptions: every VALIDATED update, every leave as a REMOVE). The gateway documents one
 * event per key per applied slice, so a missing update is counted as `superseded` when a later
 * update of its key was delivered (list subscriptions: when its key was updated again at all), and
 * as `lost` otherwise; lost ones are listed with the key's value in the gateway's store. Snapshots
 * are checked against the last value sent for their key. Before the figures are taken the gateway
 * must have applied every record sent (`gw_ingest_applied_total`) and events must have stopped.
 *
 * The machine is shared by broker, gateway, client and producer; the table also shows the whole
 * machine's CPU, the part not used by this bench's processes, and steal, to spot a noisy neighbour.
 *
 * Gateway CPU and RSS come from /proc/<pid>/stat (utime+stime) and /proc/<pid>/status (VmRSS).
 * Per second of the load it also records the gateway's CPU, the machine's busy and steal time,
 * and new or removed RocksDB files (memtable flushes, compactions), to explain latency spikes.
 * Diagnostics (off by default; each changes the gateway's command line):
 *   BENCH_PROFILE=1        `node --cpu-prof`: top self-time functions and areas in the main load window;
 *   BENCH_TRACE_GC=1       `node --trace-gc`: GC count, pause total, long pauses and full GCs per load;
 *   BENCH_HEAP_SNAPSHOT=1  `--heapsnapshot-signal`: the idle gateway's heap by constructor, with
 *                          10k subscriptions open (taken before the main load).
 *
 * Output: a table on stdout, test/bench/results/subscriptions.json, and
 * test/bench/subscriptions-report.md (text after the `<!-- notes -->` marker is kept).
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import type { RecordProducer } from '../../src/kafka/client.ts';
import { onLines } from '../support/process.ts';
import { prng } from '../support/prng.ts';

const REPO = path.resolve(import.meta.dirname, '../..');
const SELF = path.join(REPO, 'test/bench/subscriptions.ts');
const MAIN = path.join(REPO, 'src/main.ts');
const LAUNCHER = path.join(REPO, 'deploy/kafka/kafka.sh');
const RESULTS_DIR = path.join(REPO, 'test/bench/results');
const RESULTS_JSON = path.join(RESULTS_DIR, 'subscriptions.json');
const REPORT_MD = path.join(REPO, 'test/bench/subscriptions-report.md');
const NOTES_MARKER = '<!-- notes: text below this line is kept when the bench rewrites this file -->';
const TOPIC_PREFIX = 'sbench.';
const ORDERS_TOPIC = `${TOPIC_PREFIX}orders`;
const STATES = ['CREATED', 'VALIDATED', 'FAILED', 'SHIPPED', 'CANCELLED'] as const;
const VALIDATED = 'VALIDATED';
const OTHER_STATES = STATES.filter((state) => state !== VALIDATED);
/** Share of updates that set VALIDATED (and of seeded orders that start VALIDATED). */
const VALIDATED_SHARE = 0.01;
const SUBSCRIPTIONS_PER_CONNECTION = 500;
const SUBSCRIPTIONS_PER_INSTANCE = 20_000;
const TARGET_P99_MS = 100;
/** Most batches merged into one produce request when the producer is behind. */
const MAX_MERGED_BATCHES = 50;
/** Events whose produce request was acknowledged within this are reported apart (broker/producer stalls excluded). */
const FAST_ACK_MS = 20;
const ENTITY_QUERY = 'subscription ($id: ID!) { orderChanged(orderId: $id) { kind key token node { orderId state quantity updatedAt } } }';
const LIST_QUERY =
  'subscription { ordersChanged(filter: { state: { eq: VALIDATED } }, first: 1) { kind key token node { orderId state quantity updatedAt } } }';

// ---------------------------------------------------------------------------------------------
// Shared: messages between the bench and its client child.

/** [kind, keyIdx]: kind 0 = entity subscription on ord-<keyIdx>, 1 = list subscription. */
type SubSpec = readonly [number, number];

type Command =
  | { rid: number; cmd: 'open'; url: string; subs: readonly SubSpec[]; connections: number; window: number; timeoutMs: number }
  | { rid: number; cmd: 'mark' }
  | { rid: number; cmd: 'progress' }
  | { rid: number; cmd: 'collect' }
  | { rid: number; cmd: 'close' }
  | { rid: number; cmd: 'exit' };

interface OpenReply {
  readonly openMs: number;
  readonly ready: number;
  readonly failed: number;
  readonly timedOut: boolean;
  readonly errors: readonly string[];
  /** subscribe-to-ready per subscription, ms. */
  readonly readyLatencies: readonly number[];
  /** [sub, seq of the snapshot row or -1 if node null] for entity subscriptions. */
  readonly snapshots: readonly number[];
  /** Subscriptions that did not become ready (error, close, timeout). */
  readonly failedSubs: readonly number[];
  /** Time from the first socket opened to the last connection_ack. */
  readonly connectMs: number;
}

interface ProgressReply {
  readonly entity: number;
  readonly listUpserts: number;
  readonly listRemoves: number;
  readonly errors: number;
}

interface CollectReply {
  /** Flat [sub, seq, recvMs, latencyMs] for entity UPSERTs. */
  readonly entity: readonly number[];
  /** Flat [sub, seq, recvMs, latencyMs] for list UPSERTs. */
  readonly listUpserts: readonly number[];
  /** Flat [sub, keyIdx, recvMs] for list REMOVEs. */
  readonly listRemoves: readonly number[];
  /** Events of kinds no check expects (entity REMOVE, SNAPSHOT after ready, OVERFLOW). */
  readonly unexpectedKinds: Readonly<Record<string, number>>;
  readonly errors: readonly string[];
  readonly errorCount: number;
  readonly completed: number;
  readonly socketCloses: readonly string[];
  readonly cpuMs: number;
  readonly wallMs: number;
  readonly loopDelayP99Ms: number;
  readonly loopDelayMaxMs: number;
  readonly rssMb: number;
}

type Reply = { rid: number; ok: true; result: unknown } | { rid: number; ok: false; error: string };

// ---------------------------------------------------------------------------------------------
// Client child: holds the subscriptions and timestamps every event.

interface ClientSub {
  readonly index: number;
  readonly list: boolean;
  readonly keyIdx: number;
  sentAt: number;
  ready: boolean;
  failed: boolean;
}

interface ClientPhase {
  readonly sockets: WebSocket[];
  readonly subs: ClientSub[];
  readonly entity: number[];
  readonly listUpserts: number[];
  readonly listRemoves: number[];
  readonly unexpectedKinds: Record<string, number>;
  readonly errors: string[];
  errorCount: number;
  completed: number;
  readonly socketCloses: string[];
  closing: boolean;
}

function runClient(): void {
  let phase: ClientPhase | undefined;
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  loopDelay.enable();
  let markCpu = process.cpuUsage();
  let markWall = performance.now();

  const reply = (message: Reply): void => {
    process.send!(message);
  };

  const open = (command: Extract<Command, { cmd: 'open' }>): Promise<OpenReply> => {
    const subs: ClientSub[] = command.subs.map(([kind, keyIdx], index) => ({
      index,
      list: kind === 1,
      keyIdx,
      sentAt: 0,
      ready: false,
      failed: false,
    }));
    const current: ClientPhase = {
      sockets: [],
      subs,
      entity: [],
      listUpserts: [],
      listRemoves: [],
      unexpectedKinds: {},
      errors: [],
      errorCount: 0,
      completed: 0,
      socketCloses: [],
      closing: false,
    };
    phase = current;
    const pending: ClientSub[][] = Array.from({ length: command.connections }, () => []);
    for (const sub of subs) pending[sub.index % command.connections]!.push(sub);
    const acked = new Array<boolean>(command.connections).fill(false);
    const readyLatencies: number[] = [];
    const snapshots: number[] = [];
    const openErrors: string[] = [];
    let inFlight = 0;
    let ready = 0;
    let failed = 0;
    let firstSent = 0;
    let lastReady = 0;
    let nextConnection = 0;
    let settledConnections = 0;
    let connectMs = 0;
    const connectStart = Date.now();

    return new Promise<OpenReply>((resolve) => {
      let settled = false;
      const finish = (timedOut: boolean): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const failedSubs = subs.filter((sub) => !sub.ready).map((sub) => sub.index);
        resolve({
          openMs: lastReady > 0 ? lastReady - firstSent : 0,
          ready,
          failed,
          timedOut,
          errors: openErrors.slice(0, 20),
          readyLatencies,
          snapshots,
          failedSubs,
          connectMs,
        });
      };
      const timer = setTimeout(() => finish(true), command.timeoutMs);
      const settle = (sub: ClientSub, ok: boolean, error?: string): void => {
        if (sub.ready || sub.failed) return;
        inFlight--;
        if (ok) {
          sub.ready = true;
          ready++;
          lastReady = Date.now();
          readyLatencies.push(lastReady - sub.sentAt);
        } else {
          sub.failed = true;
          failed++;
          if (error && openErrors.length < 20) openErrors.push(`sub ${sub.index}: ${error}`);
        }
        if (ready + failed === subs.length) finish(false);
        else pump();
      };
      /**
       * Sends subscribes round-robin over acknowledged connections, at most `window` unready at
       * once, starting when every connection is acknowledged (or closed).
       */
      const pump = (): void => {
        if (settledConnections < command.connections) return;
        for (let idle = 0; inFlight < command.window && idle < command.connections; ) {
          const connection = nextConnection;
          nextConnection = (nextConnection + 1) % command.connections;
          const queue = pending[connection]!;
          if (!acked[connection] || queue.length === 0) {
            idle++;
            continue;
          }
          idle = 0;
          const sub = queue.shift()!;
          sub.sentAt = Date.now();
          if (firstSent === 0) firstSent = sub.sentAt;
          inFlight++;
          const payload = sub.list ? { query: LIST_QUERY } : { query: ENTITY_QUERY, variables: { id: `ord-${sub.keyIdx}` } };
          current.sockets[connection]!.send(JSON.stringify({ id: String(sub.index), type: 'subscribe', payload }));
        }
      };
      const onMessage = (connection: number, raw: WebSocket.RawData): void => {
        const now = Date.now();
        let message: { type?: string; id?: string; payload?: unknown };
        try {
          message = JSON.parse(raw.toString()) as typeof message;
        } catch {
          current.errorCount++;
          return;
        }
        switch (message.type) {
          case 'connection_ack':
            if (!acked[connection]) {
              acked[connection] = true;
              settledConnections++;
              if (settledConnections === command.connections) connectMs = Date.now() - connectStart;
            }
            pump();
            return;
          case 'ping':
            current.sockets[connection]!.send(JSON.stringify({ type: 'pong' }));
            return;
          case 'pong':
            return;
          case 'next': {
            const sub = subs[Number(message.id)];
            if (!sub) return;
            const payload = message.payload as {
              data?: Record<string, { kind: string; key: string | null; node: { quantity: number; updatedAt: string } | null } | undefined>;
              errors?: Array<{ message?: string; extensions?: { code?: string } }>;
            };
            if (payload.errors && payload.errors.length > 0) {
              current.errorCount++;
              const text = payload.errors.map((error) => `${error.extensions?.code ?? ''} ${error.message ?? ''}`.trim()).join('; ');
              if (current.errors.length < 20) current.errors.push(`sub ${sub.index}: ${text}`);
              if (!sub.ready) settle(sub, false, text);
              return;
            }
            const event = payload.data?.[sub.list ? 'ordersChanged' : 'orderChanged'];
            if (!event) return;
            if (!sub.ready) {
              if (!sub.list && event.kind === 'SNAPSHOT') {
                snapshots.push(sub.index, event.node ? event.node.quantity : -1);
                settle(sub, true);
              } else if (sub.list && event.kind === 'CAUGHT_UP') settle(sub, true);
              else if (!(sub.list && event.kind === 'SNAPSHOT'))
                current.unexpectedKinds[`before-ready:${event.kind}`] = (current.unexpectedKinds[`before-ready:${event.kind}`] ?? 0) + 1;
              return;
            }
            if (event.kind === 'UPSERT' && event.node) {
              const latency = now - Date.parse(event.node.updatedAt);
              (sub.list ? current.listUpserts : current.entity).push(sub.index, event.node.quantity, now, latency);
            } else if (event.kind === 'REMOVE' && sub.list) {
              current.listRemoves.push(sub.index, Number((event.key ?? 'ord--1').slice(4)), now);
            } else {
              const name = `${sub.list ? 'list' : 'entity'}:${event.kind}`;
              current.unexpectedKinds[name] = (current.unexpectedKinds[name] ?? 0) + 1;
            }
            return;
          }
          case 'error': {
            const sub = subs[Number(message.id)];
            current.errorCount++;
            const text = JSON.stringify(message.payload).slice(0, 300);
            if (current.errors.length < 20) current.errors.push(`sub ${message.id}: ${text}`);
            if (sub && !sub.ready) settle(sub, false, text);
            return;
          }
          case 'complete': {
            current.completed++;
            const sub = subs[Number(message.id)];
            if (sub && !sub.ready) settle(sub, false, 'completed before ready');
            return;
          }
          default:
            current.errorCount++;
            if (current.errors.length < 20) current.errors.push(`unknown message type ${String(message.type)}`);
        }
      };
      for (let connection = 0; connection < command.connections; connection++) {
        const url = `${command.url.replace(/^http/, 'ws')}/graphql`;
        const socket = new WebSocket(url, 'graphql-transport-ws', { perMessageDeflate: false });
        current.sockets.push(socket);
        socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init' })));
        socket.on('message', (raw) => onMessage(connection, raw));
        socket.on('error', (error) => {
          current.errorCount++;
          if (current.errors.length < 20) current.errors.push(`socket ${connection}: ${error.message}`);
        });
        socket.on('close', (code, reason) => {
          if (!current.closing) current.socketCloses.push(`socket ${connection}: ${code} ${reason.toString()}`);
          if (!acked[connection]) {
            acked[connection] = true;
            settledConnections++;
          }
          for (const sub of pending[connection]!.splice(0)) {
            inFlight++;
            settle(sub, false, `socket closed ${code}`);
          }
          for (const sub of subs)
            if (sub.index % command.connections === connection && !sub.ready && !sub.failed && sub.sentAt > 0)
              settle(sub, false, `socket closed ${code}`);
          if (!current.closing) pump();
        });
      }
    });
  };

  const close = async (): Promise<void> => {
    const current = phase;
    if (!current) return;
    current.closing = true;
    await Promise.all(
      current.sockets.map(
        (socket) =>
          new Promise<void>((resolve) => {
            if (socket.readyState === WebSocket.CLOSED) return resolve();
            const timer = setTimeout(() => {
              socket.terminate();
              resolve();
            }, 5_000);
            socket.once('close', () => {
              clearTimeout(timer);
              resolve();
            });
            socket.close(1000, 'bench phase done');
          }),
      ),
    );
    phase = undefined;
  };

  process.on('message', (raw) => {
    const command = raw as Command;
    const answer = async (): Promise<unknown> => {
      switch (command.cmd) {
        case 'open':
          if (phase) await close();
          return open(command);
        case 'mark':
          loopDelay.reset();
          markCpu = process.cpuUsage();
          markWall = performance.now();
          if (phase) {
            phase.entity.length = 0;
            phase.listUpserts.length = 0;
            phase.listRemoves.length = 0;
          }
          return null;
        case 'progress':
          return {
            entity: (phase?.entity.length ?? 0) / 4,
            listUpserts: (phase?.listUpserts.length ?? 0) / 4,
            listRemoves: (phase?.listRemoves.length ?? 0) / 3,
            errors: phase?.errorCount ?? 0,
          } satisfies ProgressReply;
        case 'collect': {
          const cpu = process.cpuUsage(markCpu);
          return {
            entity: phase?.entity ?? [],
            listUpserts: phase?.listUpserts ?? [],
            listRemoves: phase?.listRemoves ?? [],
            unexpectedKinds: phase?.unexpectedKinds ?? {},
            errors: phase?.errors ?? [],
            errorCount: phase?.errorCount ?? 0,
            completed: phase?.completed ?? 0,
            socketCloses: phase?.socketCloses ?? [],
            cpuMs: (cpu.user + cpu.system) / 1000,
            wallMs: performance.now() - markWall,
            loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
            loopDelayMaxMs: loopDelay.max / 1e6,
            rssMb: process.memoryUsage.rss() / 2 ** 20,
          } satisfies CollectReply;
        }
        case 'close':
          await close();
          return null;
        case 'exit':
          await close();
          setImmediate(() => process.exit(0));
          return null;
      }
    };
    answer().then(
      (result) => reply({ rid: command.rid, ok: true, result }),
      (error: unknown) => reply({ rid: command.rid, ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
}

// ---------------------------------------------------------------------------------------------
// Bench: settings.

interface Settings {
  readonly subCount: number;
  readonly connections: number;
  readonly lists: number;
  readonly seconds: number;
  readonly rate: number;
  readonly batch: number;
  readonly baselineSubs: number;
  readonly baselineSeconds: number;
  readonly orders: number;
  readonly seed: number;
  readonly kafkaPort: number;
  readonly idleSeconds: number;
  readonly warmupSeconds: number;
  readonly openWindow: number;
  readonly profile: boolean;
  readonly traceGc: boolean;
  readonly heapSnapshot: boolean;
}

function integer(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const text = raw.trim().replaceAll('_', '');
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max)
    throw new Error(`${name} must be an integer from ${min} to ${max}; got ${JSON.stringify(raw)}`);
  return value;
}

function readSettings(): Settings {
  const subCount = integer('SUB_COUNT', 10_000, 2, SUBSCRIPTIONS_PER_INSTANCE);
  const connections = integer('SUB_CONNECTIONS', 40, 1, 1000);
  const lists = integer('SUB_LISTS', Math.max(1, Math.round(subCount / 100)), 0, subCount);
  const seconds = integer('BENCH_SECONDS', 30, 1, 3600);
  const rate = integer('BENCH_RATE', 1000, 1, 100_000);
  const batch = integer('BENCH_BATCH', 10, 1, 10_000);
  const baselineSubs = integer('BASELINE_SUBS', 100, 0, 10_000);
  const baselineSeconds = integer('BASELINE_SECONDS', seconds, 1, 3600);
  const orders = integer('BENCH_ORDERS', 10_000, 1, 10_000_000);
  const settings: Settings = {
    subCount,
    connections,
    lists,
    seconds,
    rate,
    batch,
    baselineSubs,
    baselineSeconds,
    orders,
    seed: integer('BENCH_SEED', 42, 0, 2 ** 31),
    kafkaPort: integer('BENCH_KAFKA_PORT', 49492, 1024, 65534),
    idleSeconds: integer('IDLE_SECONDS', 5, 1, 600),
    warmupSeconds: integer('WARMUP_SECONDS', 10, 0, 600),
    openWindow: integer('SUB_OPEN_WINDOW', 1000, 1, SUBSCRIPTIONS_PER_INSTANCE),
    profile: process.env.BENCH_PROFILE === '1',
    traceGc: process.env.BENCH_TRACE_GC === '1',
    heapSnapshot: process.env.BENCH_HEAP_SNAPSHOT === '1',
  };
  if (subCount - lists > orders)
    throw new Error(`SUB_COUNT - SUB_LISTS (${subCount - lists}) entity subscriptions need as many orders; BENCH_ORDERS is ${orders}`);
  if (Math.ceil(subCount / connections) > SUBSCRIPTIONS_PER_CONNECTION) {
    throw new Error(`${subCount} subscriptions over ${connections} connections exceed ${SUBSCRIPTIONS_PER_CONNECTION} per connection`);
  }
  return settings;
}

// ---------------------------------------------------------------------------------------------
// Bench: processes, broker, gateway.

const run = promisify(execFile);
const children = new Set<ChildProcess>();
const syncCleanups: Array<() => void> = [];

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function killChildren(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

function installExitHandlers(): void {
  process.on('exit', killChildren);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      process.stderr.write(`bench: ${signal}, cleaning up\n`);
      killChildren();
      for (const step of syncCleanups.splice(0).reverse()) {
        try {
          step();
        } catch (error) {
          process.stderr.write(`bench: cleanup failed: ${String(error)}\n`);
        }
      }
      process.exit(130);
    });
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function terminate(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = exited(child);
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await done;
  clearTimeout(timer);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` returns a value, or throws after `timeoutMs`. */
async function until<T>(what: string, timeoutMs: number, intervalMs: number, check: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
}

interface Broker {
  readonly brokers: string;
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

async function startBroker(port: number, stateDir: string): Promise<Broker> {
  const env = { ...process.env, KAFKA_PORT: String(port), KAFKA_STATE_DIR: stateDir, KAFKA_FRESH: '1' };
  let stopped = false;
  const stopSync = (): void => {
    if (stopped) return;
    stopped = true;
    execFileSync('bash', [LAUNCHER, 'stop'], { env, timeout: 60_000, stdio: ['ignore', 'ignore', 'inherit'] });
  };
  syncCleanups.push(stopSync);
  const { stdout } = await run('bash', [LAUNCHER, 'start'], { env, timeout: 180_000 });
  const brokers = /KAFKA_BROKERS=(\S+)/.exec(stdout)?.[1];
  if (!brokers) throw new Error(`kafka.sh start printed no KAFKA_BROKERS: ${stdout}`);
  const pidText = existsSync(path.join(stateDir, 'kafka.pid')) ? readFileSync(path.join(stateDir, 'kafka.pid'), 'utf8').trim() : '';
  return {
    brokers,
    pid: /^\d+$/.test(pidText) ? Number(pidText) : undefined,
    async stop() {
      if (stopped) return;
      stopped = true;
      await run('bash', [LAUNCHER, 'stop'], { env, timeout: 60_000 });
    },
  };
}

/** The TCP port a process listens on, from /proc: its socket inodes matched against LISTEN entries. */
function listeningPort(pid: number): number | undefined {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1]!);
    } catch {
      // fd closed meanwhile
    }
  }
  for (const table of ['tcp', 'tcp6']) {
    const lines = readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1);
    for (const line of lines) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10 || fields[3] !== '0A' || !inodes.has(fields[9]!)) continue;
      return Number.parseInt(fields[1]!.split(':')[1]!, 16);
    }
  }
  return undefined;
}

interface Gateway {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly url: string;
  /** stderr lines other than the expected start-up warning, last 200. */
  readonly log: string[];
  /** With BENCH_TRACE_GC=1: every GC the gateway reported (`--trace-gc`), stamped when read. */
  readonly gcEvents: GcEvent[];
  metrics(): Promise<Map<string, number>>;
}

interface GcEvent {
  readonly wallMs: number;
  readonly kind: string;
  readonly pauseMs: number;
  readonly line: string;
}

async function startGateway(
  brokers: string,
  dataDir: string,
  profileDir: string | undefined,
  traceGc: boolean,
  heapSnapshotDir: string | undefined,
): Promise<Gateway> {
  const args = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, '--cpu-prof-name=subscriptions-gateway.cpuprofile'] : [];
  if (traceGc) args.push('--trace-gc');
  if (heapSnapshotDir) args.push('--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${heapSnapshotDir}`);
  const child = track(
    spawn(process.execPath, [...args, MAIN], {
      env: {
        ...process.env,
        KAFKA_BROKERS: brokers,
        PORT: '0',
        HOST: '127.0.0.1',
        DATA_DIR: dataDir,
        TOPIC_PREFIX,
        GROUP_ID: `sbench-${process.pid}-${Date.now()}`,
        LOG_LEVEL: 'warn',
        SUBSCRIPTIONS_PER_CONNECTION: String(SUBSCRIPTIONS_PER_CONNECTION),
        SUBSCRIPTIONS_PER_INSTANCE: String(SUBSCRIPTIONS_PER_INSTANCE),
        TOPIC_PARTITIONS: '6',
      },
      stdio: ['ignore', traceGc ? 'pipe' : 'ignore', 'pipe'],
    }),
  );
  const log: string[] = [];
  onLines(child.stderr!, (line) => {
    if (line.includes('PEER_SECRET is not set')) return;
    log.push(line);
    if (log.length > 200) log.shift();
  });
  const gcEvents: GcEvent[] = [];
  if (traceGc) {
    onLines(child.stdout!, (line) => {
      const kind = /ms: ([A-Za-z-]+(?: \([a-z]+\))?)/.exec(line)?.[1];
      const pause = /, ([\d.]+) \/ ([\d.]+) ms/.exec(line);
      if (kind && pause && gcEvents.length < 200_000) {
        gcEvents.push({ wallMs: Date.now(), kind, pauseMs: Number(pause[1]), line: line.trim().slice(0, 300) });
      }
    });
  }
  const pid = child.pid!;
  const port = await until('the gateway to listen', 120_000, 100, () => {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`gateway exited: ${log.join('\n')}`);
    return listeningPort(pid);
  });
  const url = `http://127.0.0.1:${port}`;
  await until('/healthz', 30_000, 100, async () => ((await fetch(`${url}/healthz`)).ok ? true : undefined));
  return {
    child,
    pid,
    url,
    log,
    gcEvents,
    async metrics() {
      const text = await (await fetch(`${url}/metrics`)).text();
      const values = new Map<string, number>();
      for (const line of text.split('\n')) {
        if (line.startsWith('#') || line.trim() === '') continue;
        const space = line.lastIndexOf(' ');
        const name = line.slice(0, space);
        const base = name.replace(/\{.*$/, '');
        const value = Number(line.slice(space + 1));
        values.set(name, value);
        if (base !== name) values.set(`${base}:sum`, (values.get(`${base}:sum`) ?? 0) + value);
      }
      return values;
    },
  };
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** Machine-wide CPU jiffies from /proc/stat: busy (not idle, iowait or steal), total and steal. */
function machineCpu(): { busy: number; total: number; steal: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.slice(0, 8).reduce((sum, value) => sum + value, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  const steal = fields[7] ?? 0;
  return { busy: total - idle - steal, total, steal };
}

function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

interface SecondSample {
  readonly gatewayCpu: number;
  readonly machineBusy: number;
  readonly steal: number;
  /** Store files that appeared (+) or went (-) in this second. */
  readonly storeFiles?: string;
}

/** The store directory's WAL and table files, to spot memtable flushes and compactions. */
function storeFiles(dataDir: string): { wal: string[]; sst: string[] } {
  try {
    const names = readdirSync(dataDir);
    return { wal: names.filter((name) => name.endsWith('.log')).sort(), sst: names.filter((name) => name.endsWith('.sst')).sort() };
  } catch {
    return { wal: [], sst: [] };
  }
}

/**
 * Per second from now, for `seconds`: the gateway's CPU (% of a core), the machine's busy and
 * steal (% of all cores), and changes of the store's WAL/.sst files in that second.
 */
function sampleEverySecond(pid: number, dataDir: string, seconds: number): SecondSample[] {
  const samples: SecondSample[] = [];
  let files = storeFiles(dataDir);
  let cpu = cpuSeconds(pid);
  let machine = machineCpu();
  let wall = performance.now();
  const timer = setInterval(() => {
    try {
      const nextCpu = cpuSeconds(pid);
      const nextMachine = machineCpu();
      const nextWall = performance.now();
      const total = nextMachine.total - machine.total;
      const nextFiles = storeFiles(dataDir);
      const added = [...nextFiles.wal.filter((name) => !files.wal.includes(name)), ...nextFiles.sst.filter((name) => !files.sst.includes(name))];
      const removed = files.sst.filter((name) => !nextFiles.sst.includes(name));
      files = nextFiles;
      samples.push({
        ...(added.length || removed.length
          ? { storeFiles: `${added.length ? `+${added.join(' +')}` : ''}${removed.length ? ` -${removed.join(' -')}` : ''}`.trim() }
          : {}),
        gatewayCpu: Math.round(((nextCpu - cpu) / ((nextWall - wall) / 1000)) * 100),
        machineBusy: total > 0 ? Math.round(((nextMachine.busy - machine.busy) / total) * 100) : 0,
        steal: total > 0 ? Math.round(((nextMachine.steal - machine.steal) / total) * 100) : 0,
      });
      cpu = nextCpu;
      machine = nextMachine;
      wall = nextWall;
    } catch {
      clearInterval(timer);
    }
    if (samples.length >= seconds) clearInterval(timer);
  }, 1000);
  timer.unref();
  return samples;
}

/** Samples a process's CPU over a window; `stop()` gives the average % of one core and the peak RSS. */
function watch(pid: number | undefined): { stop(): { cpuPercent: number; peakRssMb: number; seconds: number } } {
  if (pid === undefined) return { stop: () => ({ cpuPercent: Number.NaN, peakRssMb: Number.NaN, seconds: 0 }) };
  const cpu0 = cpuSeconds(pid);
  const wall0 = performance.now();
  let peak = rssMb(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssMb(pid));
    } catch {
      // process gone
    }
  }, 500);
  return {
    stop() {
      clearInterval(timer);
      const seconds = (performance.now() - wall0) / 1000;
      try {
        peak = Math.max(peak, rssMb(pid));
        return { cpuPercent: ((cpuSeconds(pid) - cpu0) / seconds) * 100, peakRssMb: peak, seconds };
      } catch {
        return { cpuPercent: Number.NaN, peakRssMb: peak, seconds };
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Bench: the client child.

interface ClientHandle {
  readonly child: ChildProcess;
  ask<T>(command: Record<string, unknown> & { cmd: Command['cmd'] }, timeoutMs: number): Promise<T>;
}

function startClient(): ClientHandle {
  const child = track(spawn(process.execPath, [SELF, 'client'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let nextRid = 1;
  child.on('message', (raw) => {
    const message = raw as Reply;
    const entry = waiting.get(message.rid);
    if (!entry) return;
    waiting.delete(message.rid);
    if (message.ok) entry.resolve(message.result);
    else entry.reject(new Error(`client: ${message.error}`));
  });
  child.once('exit', (code, signal) => {
    for (const entry of waiting.values()) entry.reject(new Error(`client exited (${code ?? signal})`));
    waiting.clear();
  });
  return {
    child,
    ask<T>(command: Record<string, unknown> & { cmd: Command['cmd'] }, timeoutMs: number): Promise<T> {
      const rid = nextRid++;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(rid);
          reject(new Error(`client did not answer ${command.cmd} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiting.set(rid, {
          resolve: (value) => {
            clearTimeout(timer);
            resolve(value as T);
          },
          reject: (error) => {
            clearTimeout(timer);
            reject(error);
          },
        });
        child.send({ ...command, rid });
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Bench: updates.

const CREATED_BASE = Date.parse('2025-01-01T00:00:00.000Z');

interface OutgoingOrder {
  readonly key: string;
  readonly value: string;
}

function orderValue(keyIdx: number, state: string, seq: number, sendMs: number): string {
  return JSON.stringify({
    orderId: `ord-${keyIdx}`,
    customerId: `cust-${keyIdx % 500}`,
    state,
    product: 'bench widget',
    quantity: seq,
    unitPrice: 9.5,
    currency: 'EUR',
    createdAt: new Date(CREATED_BASE + keyIdx * 1000).toISOString(),
    updatedAt: new Date(sendMs).toISOString(),
  });
}

/** Everything sent, indexed by sequence number (seq 0 = the seeded value). */
class UpdateLog {
  readonly keyOf: number[] = [0];
  readonly sendMs: number[] = [0];
  readonly state: string[] = [''];
  readonly previous: string[] = [''];
  readonly ackMs: number[] = [0];
  /** Next and previous seq of the same key (0 when none). */
  readonly nextSameKey: number[] = [0];
  readonly previousSameKey: number[] = [0];
  readonly currentState: string[];
  readonly lastSeq: number[];

  constructor(orders: number) {
    this.currentState = Array.from({ length: orders }, (_, keyIdx) =>
      keyIdx % Math.round(1 / VALIDATED_SHARE) === 0 ? VALIDATED : OTHER_STATES[keyIdx % OTHER_STATES.length]!,
    );
    this.lastSeq = new Array<number>(orders).fill(0);
  }

  get next(): number {
    return this.keyOf.length;
  }

  add(keyIdx: number, state: string, sendMs: number): number {
    const seq = this.keyOf.length;
    this.keyOf.push(keyIdx);
    this.sendMs.push(sendMs);
    this.state.push(state);
    this.previous.push(this.currentState[keyIdx]!);
    this.ackMs.push(0);
    this.nextSameKey.push(0);
    const last = this.lastSeq[keyIdx]!;
    this.previousSameKey.push(last);
    if (last > 0) this.nextSameKey[last] = seq;
    this.lastSeq[keyIdx] = seq;
    this.currentState[keyIdx] = state;
    return seq;
  }
}

async function seed(producer: RecordProducer, log: UpdateLog, orders: number): Promise<void> {
  const chunk = 500;
  for (let start = 0; start < orders; start += chunk) {
    const records = [];
    for (let keyIdx = start; keyIdx < Math.min(orders, start + chunk); keyIdx++) {
      records.push({ key: `ord-${keyIdx}`, value: orderValue(keyIdx, log.currentState[keyIdx]!, 0, CREATED_BASE + keyIdx * 1000) });
    }
    await producer.send(ORDERS_TOPIC, records);
  }
}

interface DriveResult {
  readonly fromSeq: number;
  readonly toSeq: number;
  readonly sent: number;
  readonly acked: number;
  readonly failedSends: number;
  readonly seconds: number;
  readonly achievedRate: number;
  readonly lateBatches: number;
  /** Produce requests (batches made while one was in flight go out together). */
  readonly requests: number;
  readonly ackP50Ms: number;
  readonly ackP99Ms: number;
  readonly ackMaxMs: number;
}

/**
 * Sends `rate` updates/s for `seconds`: a batch of `batch` records is made every batch/rate
 * seconds on a fixed schedule (its records carry that moment as send time), and produce requests
 * go out one at a time. Concurrent send() calls on the project's producer can reach the log out
 * of call order (seen as per-key inversions when read back), so a request waits for the previous
 * one; batches made meanwhile go out together in the next request (at most MAX_MERGED_BATCHES).
 */
async function drive(producer: RecordProducer, log: UpdateLog, random: () => number, settings: Settings, seconds: number): Promise<DriveResult> {
  const intervalMs = (1000 * settings.batch) / settings.rate;
  const batches = Math.max(1, Math.round((seconds * settings.rate) / settings.batch));
  const fromSeq = log.next;
  const queue: Array<{ records: OutgoingOrder[]; seqs: number[] }> = [];
  let sending: Promise<void> | undefined;
  let sentBatches = 0;
  let lateBatches = 0;
  let failedSends = 0;
  let requests = 0;
  let acked = 0;
  const firstError: string[] = [];
  const sendQueued = async (): Promise<void> => {
    for (let round = 0; queue.length > 0 && round < batches; round++) {
      const merged = queue.splice(0, MAX_MERGED_BATCHES);
      const records = merged.flatMap((entry) => entry.records);
      requests++;
      try {
        await producer.send(ORDERS_TOPIC, records);
        const now = Date.now();
        for (const entry of merged) for (const seq of entry.seqs) log.ackMs[seq] = now;
        acked += records.length;
      } catch (error) {
        failedSends++;
        if (firstError.length === 0) firstError.push(error instanceof Error ? error.message : String(error));
      }
    }
  };
  const kick = (): void => {
    sending ??= sendQueued().finally(() => {
      sending = undefined;
      if (queue.length > 0) kick();
    });
  };
  const start = performance.now();
  const startWall = Date.now();
  const hardStop = start + seconds * 1000 + 60_000;
  while (sentBatches < batches && performance.now() < hardStop) {
    const due = Math.min(batches, Math.floor((performance.now() - start) / intervalMs) + 1);
    while (sentBatches < due) {
      if (performance.now() - (start + sentBatches * intervalMs) > intervalMs) lateBatches++;
      const sendMs = Date.now();
      const records: OutgoingOrder[] = [];
      const seqs: number[] = [];
      for (let i = 0; i < settings.batch; i++) {
        const keyIdx = Math.floor(random() * settings.orders);
        const state = random() < VALIDATED_SHARE ? VALIDATED : OTHER_STATES[Math.floor(random() * OTHER_STATES.length)]!;
        const seq = log.add(keyIdx, state, sendMs);
        seqs.push(seq);
        records.push({ key: `ord-${keyIdx}`, value: orderValue(keyIdx, state, seq, sendMs) });
      }
      queue.push({ records, seqs });
      sentBatches++;
    }
    kick();
    const wait = start + sentBatches * intervalMs - performance.now();
    await sleep(Math.max(1, Math.min(intervalMs, wait)));
  }
  const sendSeconds = (Date.now() - startWall) / 1000;
  for (let round = 0; round < 3000 && (sending !== undefined || queue.length > 0); round++) await sleep(10);
  if (firstError.length > 0) process.stderr.write(`bench: ${failedSends} produce requests failed, first: ${firstError[0]}\n`);
  const toSeq = log.next;
  const acks: number[] = [];
  for (let seq = fromSeq; seq < toSeq; seq++) if (log.ackMs[seq]! > 0) acks.push(log.ackMs[seq]! - log.sendMs[seq]!);
  const sorted = acks.sort((a, b) => a - b);
  return {
    fromSeq,
    toSeq,
    sent: toSeq - fromSeq,
    acked,
    failedSends,
    seconds: sendSeconds,
    achievedRate: (toSeq - fromSeq) / sendSeconds,
    lateBatches,
    requests,
    ackP50Ms: percentile(sorted, 50),
    ackP99Ms: percentile(sorted, 99),
    ackMaxMs: sorted.at(-1) ?? Number.NaN,
  };
}

// ---------------------------------------------------------------------------------------------
// Bench: analysis.

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

interface LatencyStats {
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

function latencyStats(values: readonly number[]): LatencyStats {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((total, value) => total + value, 0);
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
    mean: sorted.length > 0 ? sum / sorted.length : Number.NaN,
  };
}

interface DeliveryCheck {
  readonly expected: number;
  readonly delivered: number;
  readonly duplicates: number;
  readonly lost: number;
  readonly collapsed: number;
  /** Received events that belong to another key, or to no update of this phase. */
  readonly misrouted: number;
  /** Delivered time minus embedded send time, as computed by the bench from its own log, ms (cross-check). */
  readonly maxClockSkewMs: number;
  readonly lostSamples: LostSample[];
}

/**
 * Compares received [sub, seq, recvMs, latency] with the expected seqs per subscription.
 * `expectedFor(sub)` lists the seqs a subscription must receive; `belongs(sub, seq)` whether one may.
 */
function checkDelivery(
  log: UpdateLog,
  received: readonly number[],
  subs: readonly number[],
  expectedFor: (sub: number) => readonly number[],
  belongs: (sub: number, seq: number) => boolean,
  latencies: number[],
  fastAckLatencies: number[],
  timeline: Array<[number, number, number]>,
  superseded: (sub: number, seq: number, set: Set<number> | undefined) => boolean,
): DeliveryCheck {
  const got = new Map<number, Set<number>>();
  let duplicates = 0;
  let misrouted = 0;
  let delivered = 0;
  let maxClockSkewMs = 0;
  for (let i = 0; i + 3 < received.length; i += 4) {
    const sub = received[i]!;
    const seq = received[i + 1]!;
    const recvMs = received[i + 2]!;
    const latency = received[i + 3]!;
    if (!belongs(sub, seq)) {
      misrouted++;
      continue;
    }
    let set = got.get(sub);
    if (!set) got.set(sub, (set = new Set()));
    if (set.has(seq)) {
      duplicates++;
      continue;
    }
    set.add(seq);
    delivered++;
    latencies.push(latency);
    const ack = log.ackMs[seq]! > 0 ? log.ackMs[seq]! - log.sendMs[seq]! : Number.POSITIVE_INFINITY;
    if (ack <= FAST_ACK_MS) fastAckLatencies.push(latency);
    timeline.push([log.sendMs[seq]!, latency, ack]);
    maxClockSkewMs = Math.max(maxClockSkewMs, Math.abs(recvMs - log.sendMs[seq]! - latency));
  }
  let expected = 0;
  let lost = 0;
  let collapsed = 0;
  const lostSamples: LostSample[] = [];
  for (const sub of subs) {
    const set = got.get(sub);
    for (const seq of expectedFor(sub)) {
      expected++;
      if (set?.has(seq)) continue;
      const next = log.nextSameKey[seq]!;
      if (superseded(sub, seq, set)) collapsed++;
      else {
        lost++;
        if (lostSamples.length < 10) {
          lostSamples.push({
            sub,
            seq,
            key: `ord-${log.keyOf[seq]}`,
            state: log.state[seq]!,
            sent: new Date(log.sendMs[seq]!).toISOString(),
            acked: log.ackMs[seq]! > 0,
            nextSameKeySeq: next,
            nextSameKeyAfterMs: next > 0 ? log.sendMs[next]! - log.sendMs[seq]! : null,
            storeQuantity: null,
          });
        }
      }
    }
  }
  return { expected, delivered, duplicates, lost, collapsed, misrouted, maxClockSkewMs, lostSamples };
}

interface LostSample {
  readonly sub: number;
  readonly seq: number;
  readonly key: string;
  readonly state: string;
  readonly sent: string;
  readonly acked: boolean;
  readonly nextSameKeySeq: number;
  readonly nextSameKeyAfterMs: number | null;
  /** `quantity` (= seq) of the key in the gateway's store after the phase, by a GraphQL query. */
  storeQuantity: number | null;
}

/** Entity subscriptions: a missing update is superseded when a later update of its key was delivered. */
function laterDelivered(log: UpdateLog): (sub: number, seq: number, set: Set<number> | undefined) => boolean {
  return (_sub, seq, set) => {
    if (!set) return false;
    for (let next = log.nextSameKey[seq]!, hops = 0; next > 0 && hops < 100_000; next = log.nextSameKey[next]!, hops++)
      if (set.has(next)) return true;
    return false;
  };
}

/**
 * List subscriptions: a missing VALIDATED update is superseded when its key was updated again at
 * all (VALIDATED then another state in one applied slice yields no event).
 */
function laterUpdated(log: UpdateLog): (sub: number, seq: number, set: Set<number> | undefined) => boolean {
  return (_sub, seq) => log.nextSameKey[seq]! > 0;
}

/** p50/p99 of latency per `bucketSeconds` of send time, to show warm-up spikes or drift. */
function latencyTimeline(
  samples: Array<[number, number, number]>,
  startMs: number,
  bucketSeconds: number,
): Array<{ fromSecond: number; count: number; p50: number; p99: number; max: number; ackP50: number; ackP99: number }> {
  const buckets = new Map<number, { latencies: number[]; acks: number[] }>();
  for (const [sendMs, latency, ack] of samples) {
    const bucket = Math.floor((sendMs - startMs) / 1000 / bucketSeconds);
    let values = buckets.get(bucket);
    if (!values) buckets.set(bucket, (values = { latencies: [], acks: [] }));
    values.latencies.push(latency);
    values.acks.push(ack);
  }
  return [...buckets.entries()]
    .sort(([a], [b]) => a - b)
    .map(([bucket, values]) => {
      const stats = latencyStats(values.latencies);
      const acks = latencyStats(values.acks);
      return {
        fromSecond: bucket * bucketSeconds,
        count: stats.count,
        p50: stats.p50,
        p99: stats.p99,
        max: stats.max,
        ackP50: acks.p50,
        ackP99: acks.p99,
      };
    });
}

// ---------------------------------------------------------------------------------------------
// Bench: phases.

interface PhaseResult {
  readonly name: string;
  readonly subscriptions: number;
  readonly entitySubscriptions: number;
  readonly listSubscriptions: number;
  readonly connections: number;
  readonly open: {
    readonly ms: number;
    readonly connectMs: number;
    readonly ready: number;
    readonly failed: number;
    readonly timedOut: boolean;
    readonly readyP50Ms: number;
    readonly readyP99Ms: number;
    readonly errors: readonly string[];
  };
  readonly snapshotMismatches: number;
  /** BENCH_HEAP_SNAPSHOT=1, main phase: the idle gateway's heap by constructor. */
  readonly heap?: HeapSummary;
  /** Up to 10: the key, the seq its snapshot carried, the last seq sent to it, and the store's now. */
  readonly snapshotMismatchSamples: Array<{ key: string; snapshotSeq: number; lastSentSeq: number; storeQuantity: number | null }>;
  readonly rssBeforeMb: number;
  readonly rssIdleMb: number;
  readonly cpuIdlePercent: number;
  readonly drive: DriveResult;
  readonly cpuLoadPercent: number;
  readonly rssPeakLoadMb: number;
  readonly rssEndMb: number;
  readonly clientCpuPercent: number;
  readonly clientLoopDelayP99Ms: number;
  readonly clientLoopDelayMaxMs: number;
  readonly clientRssMb: number;
  readonly brokerCpuPercent: number;
  readonly benchCpuPercent: number;
  /** /proc/loadavg (1, 5, 15 min) when the load started. */
  readonly loadAvgStart: string;
  /**
   * All CPUs busy during the load, in % of one core (max 100 × cores); other = not this bench's
   * processes; steal = % of the machine's CPU time the hypervisor gave to other guests.
   */
  readonly machineCpuPercent: number;
  readonly otherCpuPercent: number;
  readonly stealPercent: number;
  readonly gatewayLagAfter: number;
  readonly drainMs: number;
  readonly entity: DeliveryCheck;
  readonly listUpserts: DeliveryCheck;
  /** `collapsible`: expected REMOVEs of a key updated again within the collapse window. */
  readonly listRemoves: { readonly expected: number; readonly collapsible: number; readonly delivered: number };
  readonly unexpectedKinds: Readonly<Record<string, number>>;
  readonly clientErrors: readonly string[];
  readonly clientErrorCount: number;
  readonly completedByServer: number;
  readonly socketCloses: readonly string[];
  /** `entityFastAck`: entity events whose produce request was acknowledged within FAST_ACK_MS. */
  readonly latency: { readonly entity: LatencyStats; readonly entityFastAck: LatencyStats; readonly list: LatencyStats; readonly all: LatencyStats };
  readonly timeline: ReturnType<typeof latencyTimeline>;
  /** Store files that appeared/went per second of the load (memtable flush, compaction). */
  readonly storeFileChanges: string[];
  /** The same per second of send time, with that second's gateway CPU %, machine busy % and steal % (of all cores). */
  readonly timeline1s: Array<ReturnType<typeof latencyTimeline>[number] & Partial<SecondSample>>;
  readonly loadWindow: { readonly startMs: number; readonly endMs: number };
}

interface Context {
  readonly settings: Settings;
  readonly gateway: Gateway;
  readonly client: ClientHandle;
  readonly producer: RecordProducer;
  readonly log: UpdateLog;
  readonly random: () => number;
  readonly brokerPid: number | undefined;
  readonly seeded: number;
  /** The gateway's RocksDB directory. */
  readonly dataDir: string;
}

function progress(message: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/** Waits until the gateway has applied every record sent so far. */
async function waitApplied(context: Context): Promise<void> {
  const total = context.seeded + (context.log.next - 1);
  await until(`the gateway to apply ${total} records`, 120_000, 100, async () => {
    const metrics = await context.gateway.metrics();
    return (metrics.get('gw_ingest_applied_total') ?? 0) >= total ? true : undefined;
  });
}

async function runPhase(context: Context, name: string, specs: readonly SubSpec[], connections: number, seconds: number): Promise<PhaseResult> {
  const { settings, gateway, client, log } = context;
  await waitApplied(context);
  const rssBeforeMb = rssMb(gateway.pid);
  const requestedLists = specs.filter(([kind]) => kind === 1).length;
  progress(
    `${name}: opening ${specs.length} subscriptions (${specs.length - requestedLists} entity, ${requestedLists} list) over ${connections} connections`,
  );
  const opened = await client.ask<OpenReply>(
    { cmd: 'open', url: gateway.url, subs: specs, connections, window: settings.openWindow, timeoutMs: 300_000 },
    320_000,
  );
  // Only subscriptions that opened are expected to receive events; the others count as failed opens.
  const failedSubs = new Set(opened.failedSubs);
  const entitySubs: number[] = [];
  const listSubs: number[] = [];
  const subOfKey = new Map<number, number>();
  specs.forEach(([kind, keyIdx], index) => {
    if (failedSubs.has(index)) return;
    if (kind === 1) listSubs.push(index);
    else {
      entitySubs.push(index);
      subOfKey.set(keyIdx, index);
    }
  });
  const readySorted = [...opened.readyLatencies].sort((a, b) => a - b);
  progress(
    `${name}: ${opened.ready} ready, ${opened.failed} failed in ${opened.openMs} ms${opened.errors.length ? `; first error: ${opened.errors[0]}` : ''}`,
  );
  let snapshotMismatches = 0;
  const snapshotMismatchSamples: PhaseResult['snapshotMismatchSamples'] = [];
  for (let i = 0; i + 1 < opened.snapshots.length; i += 2) {
    const keyIdx = specs[opened.snapshots[i]!]![1];
    if (opened.snapshots[i + 1] === log.lastSeq[keyIdx]) continue;
    snapshotMismatches++;
    if (snapshotMismatchSamples.length < 10) {
      const key = `ord-${keyIdx}`;
      snapshotMismatchSamples.push({
        key,
        snapshotSeq: opened.snapshots[i + 1]!,
        lastSentSeq: log.lastSeq[keyIdx]!,
        storeQuantity: await storeQuantity(gateway, key).catch(() => null),
      });
    }
  }

  progress(`${name}: idle ${settings.idleSeconds} s`);
  const idle = watch(gateway.pid);
  await sleep(settings.idleSeconds * 1000);
  const idleStats = idle.stop();
  const rssIdleMb = rssMb(gateway.pid);
  let heap: HeapSummary | undefined;
  if (settings.heapSnapshot && name === 'main') {
    progress(`${name}: heap snapshot of the idle gateway`);
    heap = await heapSnapshot(gateway.pid, path.join(context.dataDir, '..', 'heap'), specs.length).catch((error: unknown) => {
      progress(`heap snapshot failed: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    });
    await sleep(3000);
  }

  progress(`${name}: ${settings.rate} updates/s for ${seconds} s`);
  await client.ask({ cmd: 'mark' }, 10_000);
  const loadAvgStart = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const machine0 = machineCpu();
  const gatewayWatch = watch(gateway.pid);
  const clientWatch = watch(client.child.pid);
  const brokerWatch = watch(context.brokerPid);
  const benchCpu0 = process.cpuUsage();
  const loadStart = Date.now();
  const perSecond = sampleEverySecond(gateway.pid, context.dataDir, seconds + 2);
  const driven = await drive(context.producer, log, context.random, settings, seconds);
  const loadEnd = Date.now();
  const benchCpu = process.cpuUsage(benchCpu0);
  const gatewayLoad = gatewayWatch.stop();
  const clientLoad = clientWatch.stop();
  const brokerLoad = brokerWatch.stop();
  const machine1 = machineCpu();
  const machineCores = ((machine1.busy - machine0.busy) / (machine1.total - machine0.total)) * os.cpus().length * 100;
  const stealPercent = ((machine1.steal - machine0.steal) / (machine1.total - machine0.total)) * 100;
  const benchCpuPercent = ((benchCpu.user + benchCpu.system) / 1e6 / ((loadEnd - loadStart) / 1000)) * 100;
  const ownCpu = gatewayLoad.cpuPercent + clientLoad.cpuPercent + brokerLoad.cpuPercent + benchCpuPercent;
  progress(`${name}: sent ${driven.sent} updates (${driven.achievedRate.toFixed(0)}/s), gateway CPU ${gatewayLoad.cpuPercent.toFixed(0)}%`);

  // Expected deliveries.
  const expectedEntity = new Map<number, number[]>();
  const expectedList: number[] = [];
  let expectedRemoves = 0;
  let collapsibleRemoves = 0;
  for (let seq = driven.fromSeq; seq < driven.toSeq; seq++) {
    const sub = subOfKey.get(log.keyOf[seq]!);
    if (sub !== undefined) {
      let seqs = expectedEntity.get(sub);
      if (!seqs) expectedEntity.set(sub, (seqs = []));
      seqs.push(seq);
    }
    if (log.state[seq] === VALIDATED) expectedList.push(seq);
    else if (log.previous[seq] === VALIDATED) {
      expectedRemoves++;
      if (log.nextSameKey[seq]! > 0 || log.previousSameKey[seq]! >= driven.fromSeq) collapsibleRemoves++;
    }
  }
  const expectedEntityTotal = [...expectedEntity.values()].reduce((total, seqs) => total + seqs.length, 0);
  const expectedTotal = expectedEntityTotal + (expectedList.length + expectedRemoves) * listSubs.length;

  // Drain: the gateway applies everything sent, then events stop arriving (3 s quiet), or 60 s.
  const drainStart = Date.now();
  await waitApplied(context).catch((error: unknown) => progress(`${name}: ${error instanceof Error ? error.message : String(error)}`));
  let lastCount = -1;
  let lastChange = Date.now();
  for (let round = 0; round < 600 && Date.now() - drainStart < 60_000; round++) {
    const counts = await client.ask<ProgressReply>({ cmd: 'progress' }, 10_000);
    const count = counts.entity + counts.listUpserts + counts.listRemoves;
    if (count >= expectedTotal) break;
    if (count !== lastCount) {
      lastCount = count;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > 3_000) break;
    await sleep(100);
  }
  const drainMs = Date.now() - drainStart;
  const metrics = await gateway.metrics();
  const collected = await client.ask<CollectReply>({ cmd: 'collect' }, 60_000);
  const rssEndMb = rssMb(gateway.pid);

  const entityLatencies: number[] = [];
  const listLatencies: number[] = [];
  const fastAckLatencies: number[] = [];
  const timelineSamples: Array<[number, number, number]> = [];
  const entity = checkDelivery(
    log,
    collected.entity,
    entitySubs,
    (sub) => expectedEntity.get(sub) ?? [],
    (sub, seq) => seq >= driven.fromSeq && seq < driven.toSeq && log.keyOf[seq] === specs[sub]?.[1] && specs[sub]?.[0] === 0,
    entityLatencies,
    fastAckLatencies,
    timelineSamples,
    laterDelivered(log),
  );
  const listUpserts = checkDelivery(
    log,
    collected.listUpserts,
    listSubs,
    () => expectedList,
    (sub, seq) => seq >= driven.fromSeq && seq < driven.toSeq && log.state[seq] === VALIDATED && specs[sub]?.[0] === 1,
    listLatencies,
    [],
    [],
    laterUpdated(log),
  );
  for (const sample of [...entity.lostSamples, ...listUpserts.lostSamples])
    sample.storeQuantity = await storeQuantity(gateway, sample.key).catch(() => null);

  progress(`${name}: closing subscriptions`);
  await client.ask({ cmd: 'close' }, 30_000);
  return {
    name,
    subscriptions: specs.length,
    entitySubscriptions: specs.length - requestedLists,
    listSubscriptions: requestedLists,
    connections,
    open: {
      ms: opened.openMs,
      connectMs: opened.connectMs,
      ready: opened.ready,
      failed: opened.failed,
      timedOut: opened.timedOut,
      readyP50Ms: percentile(readySorted, 50),
      readyP99Ms: percentile(readySorted, 99),
      errors: opened.errors,
    },
    snapshotMismatches,
    snapshotMismatchSamples,
    heap,
    rssBeforeMb,
    rssIdleMb,
    cpuIdlePercent: idleStats.cpuPercent,
    drive: driven,
    cpuLoadPercent: gatewayLoad.cpuPercent,
    rssPeakLoadMb: gatewayLoad.peakRssMb,
    rssEndMb,
    clientCpuPercent: clientLoad.cpuPercent,
    clientLoopDelayP99Ms: collected.loopDelayP99Ms,
    clientLoopDelayMaxMs: collected.loopDelayMaxMs,
    clientRssMb: collected.rssMb,
    brokerCpuPercent: brokerLoad.cpuPercent,
    benchCpuPercent,
    loadAvgStart,
    machineCpuPercent: machineCores,
    // Per-process CPU is sampled and steal blurs it; small negative differences mean "none".
    otherCpuPercent: Math.max(0, machineCores - ownCpu),
    stealPercent,
    gatewayLagAfter: metrics.get('gw_partition_lag:sum') ?? Number.NaN,
    drainMs,
    entity,
    listUpserts,
    listRemoves: {
      expected: expectedRemoves * listSubs.length,
      collapsible: collapsibleRemoves * listSubs.length,
      delivered: collected.listRemoves.length / 3,
    },
    unexpectedKinds: collected.unexpectedKinds,
    clientErrors: collected.errors,
    clientErrorCount: collected.errorCount,
    completedByServer: collected.completed,
    socketCloses: collected.socketCloses,
    latency: {
      entity: latencyStats(entityLatencies),
      entityFastAck: latencyStats(fastAckLatencies),
      list: latencyStats(listLatencies),
      all: latencyStats([...entityLatencies, ...listLatencies]),
    },
    timeline: latencyTimeline(timelineSamples, loadStart, 5),
    timeline1s: latencyTimeline(timelineSamples, loadStart, 1).map((bucket) => ({ ...bucket, ...(perSecond[bucket.fromSecond] ?? {}) })),
    storeFileChanges: perSecond.flatMap((sample, second) => (sample.storeFiles ? [`+${second} s: ${sample.storeFiles}`] : [])),
    loadWindow: { startMs: loadStart, endMs: loadEnd },
  };
}

/** `count` subscriptions: `lists` list ones spread evenly among entity ones on distinct keys spread over all orders. */
/**
 * Reads the whole orders topic back with kcat and checks, per key, that the log holds the updates
 * in the order they were sent (quantity = seq increases with the offset), and that every seq sent
 * is in the log once. For the given keys it returns their last records in log order.
 */
async function checkTopicOrder(
  brokers: string,
  log: UpdateLog,
  keys: ReadonlySet<string>,
): Promise<{
  records: number;
  missingSeqs: number;
  duplicateSeqs: number;
  inversions: number;
  inversionSamples: string[];
  histories: Record<string, string[]>;
}> {
  const { stdout } = await run('kcat', ['-b', brokers, '-C', '-t', ORDERS_TOPIC, '-o', 'beginning', '-e', '-q', '-f', '%p\t%o\t%k\t%s\n'], {
    timeout: 120_000,
    maxBuffer: 512 * 2 ** 20,
  });
  const lastByKey = new Map<string, number>();
  const seen = new Uint8Array(log.next);
  const histories: Record<string, string[]> = {};
  let records = 0;
  let duplicateSeqs = 0;
  let inversions = 0;
  const inversionSamples: string[] = [];
  // Offsets are per partition and a key lives in one partition, so per-key order is the order within the output.
  for (const line of stdout.split('\n')) {
    if (line === '') continue;
    const [partition, offset, key, value] = line.split('\t');
    const quantity = Number(/"quantity":(\d+)/.exec(value ?? '')?.[1] ?? Number.NaN);
    if (!key || !Number.isFinite(quantity)) continue;
    records++;
    if (quantity > 0 && quantity < seen.length) {
      if (seen[quantity]) duplicateSeqs++;
      seen[quantity] = 1;
    }
    const previous = lastByKey.get(key);
    if (previous !== undefined && quantity < previous) {
      inversions++;
      if (inversionSamples.length < 10) inversionSamples.push(`${key} p${partition} offset ${offset}: seq ${quantity} after seq ${previous}`);
    }
    lastByKey.set(key, quantity);
    if (keys.has(key)) (histories[key] ??= []).push(`p${partition}@${offset}=seq ${quantity}`);
  }
  let missingSeqs = 0;
  for (let seq = 1; seq < seen.length; seq++) if (!seen[seq]) missingSeqs++;
  for (const key of Object.keys(histories)) histories[key] = histories[key]!.slice(-8);
  return { records, missingSeqs, duplicateSeqs, inversions, inversionSamples, histories };
}

/** GC pauses reported by the gateway within a load window (±1 s); the long ones and every full GC as offsets from its start. */
function gcSummary(
  events: readonly GcEvent[],
  window: { startMs: number; endMs: number },
): { count: number; totalPauseMs: number; long: string[]; fullGcLines: string[] } {
  const inside = events.filter((event) => event.wallMs >= window.startMs - 1000 && event.wallMs <= window.endMs + 1000);
  return {
    count: inside.length,
    totalPauseMs: inside.reduce((total, event) => total + event.pauseMs, 0),
    fullGcLines: inside
      .filter((event) => !event.kind.startsWith('Scavenge'))
      .slice(0, 20)
      .map((event) => `+${fmt((event.wallMs - window.startMs) / 1000, 1)} s ${event.line}`),
    long: inside
      .filter((event) => event.pauseMs > 20 || !event.kind.startsWith('Scavenge'))
      .slice(0, 50)
      .map((event) => `+${fmt((event.wallMs - window.startMs) / 1000, 1)} s ${event.kind} ${fmt(event.pauseMs)} ms`),
  };
}

interface HeapSummary {
  readonly file: string;
  readonly totalMb: number;
  readonly nodes: number;
  /** Largest groups by self size: constructor (or node type), count, MB, and count per subscription. */
  readonly top: Array<{ name: string; count: number; mb: number; perSubscription: number }>;
}

/**
 * Makes the gateway write a heap snapshot (SIGUSR2 with --heapsnapshot-signal), waits until the
 * file stops growing, and sums self sizes by constructor name.
 */
async function heapSnapshot(pid: number, dir: string, subscriptions: number): Promise<HeapSummary> {
  const before = new Set(readdirSync(dir));
  process.kill(pid, 'SIGUSR2');
  const file = await until('the heap snapshot file', 180_000, 500, () =>
    readdirSync(dir).find((name) => name.endsWith('.heapsnapshot') && !before.has(name)),
  );
  const full = path.join(dir, file);
  let size = -1;
  await until('the heap snapshot to be complete', 300_000, 1000, () => {
    const now = statSync(full).size;
    const done = now > 0 && now === size;
    size = now;
    return done ? true : undefined;
  });
  const snapshot = JSON.parse(readFileSync(full, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snapshot.snapshot.meta.node_fields;
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const types = snapshot.snapshot.meta.node_types[0];
  const groups = new Map<string, { count: number; bytes: number }>();
  let total = 0;
  for (let i = 0; i < snapshot.nodes.length; i += width) {
    const type = types[snapshot.nodes[i + typeAt]!] ?? '?';
    const name =
      type === 'object' || type === 'closure'
        ? `${snapshot.strings[snapshot.nodes[i + nameAt]!] ?? '?'}${type === 'closure' ? ' (closure)' : ''}`
        : `(${type})`;
    const bytes = snapshot.nodes[i + sizeAt]!;
    total += bytes;
    const group = groups.get(name) ?? { count: 0, bytes: 0 };
    group.count++;
    group.bytes += bytes;
    groups.set(name, group);
  }
  rmSync(full, { force: true });
  return {
    file,
    totalMb: Math.round(total / 2 ** 20),
    nodes: snapshot.nodes.length / width,
    top: [...groups.entries()]
      .sort(([, a], [, b]) => b.bytes - a.bytes)
      .slice(0, 30)
      .map(([name, group]) => ({
        name,
        count: group.count,
        mb: Math.round((group.bytes / 2 ** 20) * 10) / 10,
        perSubscription: Math.round((group.count / subscriptions) * 10) / 10,
      })),
  };
}

async function storeQuantity(gateway: Gateway, key: string): Promise<number | null> {
  const response = await fetch(`${gateway.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: 'query ($id: ID!) { order(orderId: $id) { quantity } }', variables: { id: key } }),
    signal: AbortSignal.timeout(5_000),
  });
  const body = (await response.json()) as { data?: { order: { quantity: number } | null } };
  return body.data?.order?.quantity ?? null;
}

function subscriptionSpecs(count: number, lists: number, orders: number, spread: boolean): SubSpec[] {
  const entities = count - lists;
  const specs: SubSpec[] = [];
  for (let i = 0; i < entities; i++) specs.push([0, spread ? Math.floor((i * orders) / entities) : i]);
  for (let i = 0; i < lists; i++) specs.splice(Math.floor(((i + 0.5) * count) / lists), 0, [1, -1]);
  return specs.slice(0, count);
}

// ---------------------------------------------------------------------------------------------
// Bench: CPU profile.

interface ProfileEntry {
  readonly fn: string;
  readonly selfMs: number;
  readonly percent: number;
}

interface ProfileSummary {
  /** Main-thread time in the window that was not idle, and idle time, ms. */
  readonly busyMs: number;
  readonly idleMs: number;
  readonly top: ProfileEntry[];
  /** Self time by area (RocksDB, socket writes, graphql-js, graphql-ws, ws, KafkaJS, gateway src/, GC, other). */
  readonly areas: ProfileEntry[];
}

const PROFILE_AREAS: ReadonlyArray<readonly [string, RegExp]> = [
  ['RocksDB (sync calls)', /@nxtedition\/rocksdb\//],
  ['socket writes (native)', /^(writev|writeBuffer|writeUtf8String|writeLatin1String)\b/],
  ['graphql-ws', /graphql-ws\//],
  ['graphql-js execution', /(^| )graphql\//],
  ['ws', /(^| )ws\/lib\//],
  ['KafkaJS', /kafkajs\//],
  ['gateway src/', / src\//],
  ['garbage collector', /^\(garbage collector\)/],
];

function summarizeProfile(file: string, window: { startMs: number; endMs: number } | undefined, exitWallMs: number, limit: number): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
    samples: number[];
    timeDeltas: number[];
    endTime: number;
  };
  const names = new Map<number, string>();
  for (const node of profile.nodes) {
    const where = node.callFrame.url
      ? `${node.callFrame.url.replace(`file://${REPO}/`, '').replace(/^.*node_modules\//, '')}:${node.callFrame.lineNumber + 1}`
      : '';
    names.set(node.id, `${node.callFrame.functionName || '(anonymous)'}${where ? ` ${where}` : ''}`);
  }
  // Sample times are monotonic µs; the profile ends at the process exit, which maps them to wall time.
  let time = 0;
  const times: number[] = [];
  for (const delta of profile.timeDeltas) times.push((time += delta));
  const lastTime = times.at(-1) ?? 0;
  const self = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const wall = exitWallMs - (lastTime - times[i]!) / 1000;
    if (window && (wall < window.startMs || wall > window.endMs)) continue;
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    const name = names.get(profile.samples[i]!) ?? '?';
    if (name === '(idle)') {
      idle += ms;
      continue;
    }
    self.set(name, (self.get(name) ?? 0) + ms);
    busy += ms;
  }
  const entry = (fn: string, ms: number): ProfileEntry => ({
    fn,
    selfMs: Math.round(ms),
    percent: busy > 0 ? Math.round((ms / busy) * 1000) / 10 : 0,
  });
  const areas = new Map<string, number>();
  for (const [name, ms] of self) {
    const area = PROFILE_AREAS.find(([, pattern]) => pattern.test(name))?.[0] ?? 'other';
    areas.set(area, (areas.get(area) ?? 0) + ms);
  }
  return {
    busyMs: Math.round(busy),
    idleMs: Math.round(idle),
    top: [...self.entries()]
      .sort(([, a], [, b]) => b - a)
      .slice(0, limit)
      .map(([fn, ms]) => entry(fn, ms)),
    areas: [...areas.entries()].sort(([, a], [, b]) => b - a).map(([fn, ms]) => entry(fn, ms)),
  };
}

// ---------------------------------------------------------------------------------------------
// Bench: output.

const fmt = (value: number, digits = 0): string => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

function tableRows(phases: readonly PhaseResult[]): Array<[string, ...string[]]> {
  const row = (label: string, cell: (phase: PhaseResult) => string): [string, ...string[]] => [label, ...phases.map(cell)];
  return [
    row('subscriptions (entity + list)', (p) => `${p.subscriptions} (${p.entitySubscriptions} + ${p.listSubscriptions})`),
    row('connections', (p) => String(p.connections)),
    row('connect (all acks), ms', (p) => fmt(p.open.connectMs)),
    row(
      'time to open all subscriptions, ms',
      (p) => `${fmt(p.open.ms)}${p.open.failed ? ` (${p.open.failed} failed)` : ''}${p.open.timedOut ? ' TIMED OUT' : ''}`,
    ),
    row('subscribe-to-ready p50 / p99, ms', (p) => `${fmt(p.open.readyP50Ms)} / ${fmt(p.open.readyP99Ms)}`),
    row('snapshot mismatches', (p) => String(p.snapshotMismatches)),
    row('updates sent (acked)', (p) => `${p.drive.sent} (${p.drive.acked})`),
    row('updates/s achieved', (p) => fmt(p.drive.achievedRate)),
    row('produce ack p50 / p99, ms', (p) => `${fmt(p.drive.ackP50Ms)} / ${fmt(p.drive.ackP99Ms)}`),
    row('events expected', (p) => String(p.entity.expected + p.listUpserts.expected + p.listRemoves.expected)),
    row('events delivered', (p) => String(p.entity.delivered + p.listUpserts.delivered + p.listRemoves.delivered)),
    row('entity UPSERT delivered / expected', (p) => `${p.entity.delivered} / ${p.entity.expected}`),
    row('list UPSERT delivered / expected', (p) => `${p.listUpserts.delivered} / ${p.listUpserts.expected}`),
    row('list REMOVE delivered / expected', (p) => `${p.listRemoves.delivered} / ${p.listRemoves.expected}`),
    row('lost / superseded by a later update', (p) => `${p.entity.lost + p.listUpserts.lost} / ${p.entity.collapsed + p.listUpserts.collapsed}`),
    row('duplicates / misrouted', (p) => `${p.entity.duplicates + p.listUpserts.duplicates} / ${p.entity.misrouted + p.listUpserts.misrouted}`),
    row('errors / server completes / closes', (p) => `${p.clientErrorCount} / ${p.completedByServer} / ${p.socketCloses.length}`),
    row(
      'latency entity p50 / p90 / p99 / max, ms',
      (p) => `${fmt(p.latency.entity.p50)} / ${fmt(p.latency.entity.p90)} / ${fmt(p.latency.entity.p99)} / ${fmt(p.latency.entity.max)}`,
    ),
    row(
      'latency list p50 / p90 / p99 / max, ms',
      (p) => `${fmt(p.latency.list.p50)} / ${fmt(p.latency.list.p90)} / ${fmt(p.latency.list.p99)} / ${fmt(p.latency.list.max)}`,
    ),
    row(
      'latency all p50 / p90 / p99 / max, ms',
      (p) => `${fmt(p.latency.all.p50)} / ${fmt(p.latency.all.p90)} / ${fmt(p.latency.all.p99)} / ${fmt(p.latency.all.max)}`,
    ),
    row(
      `latency entity, ack <= ${FAST_ACK_MS} ms: p50 / p99 (n)`,
      (p) => `${fmt(p.latency.entityFastAck.p50)} / ${fmt(p.latency.entityFastAck.p99)} (${p.latency.entityFastAck.count})`,
    ),
    row('latency samples (entity + list)', (p) => `${p.latency.entity.count} + ${p.latency.list.count}`),
    row('gateway CPU idle with subs, % of a core', (p) => fmt(p.cpuIdlePercent, 1)),
    row('gateway CPU under load, % of a core', (p) => fmt(p.cpuLoadPercent, 1)),
    row('gateway RSS before subs / idle / end, MB', (p) => `${fmt(p.rssBeforeMb)} / ${fmt(p.rssIdleMb)} / ${fmt(p.rssEndMb)}`),
    row('gateway RSS peak under load, MB', (p) => fmt(p.rssPeakLoadMb)),
    row(
      'client CPU %, loop delay p99 / max ms',
      (p) => `${fmt(p.clientCpuPercent)}, ${fmt(p.clientLoopDelayP99Ms)} / ${fmt(p.clientLoopDelayMaxMs)}`,
    ),
    row('broker CPU % / bench (producer) CPU %', (p) => `${fmt(p.brokerCpuPercent)} / ${fmt(p.benchCpuPercent)}`),
    row('machine CPU % (all cores) / not ours / steal', (p) => `${fmt(p.machineCpuPercent)} / ${fmt(p.otherCpuPercent)} / ${fmt(p.stealPercent, 1)}`),
    row('load average at load start', (p) => p.loadAvgStart),
  ];
}

function renderTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>, markdown: boolean): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    markdown
      ? `| ${cells.join(' | ')} |`
      : cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ');
  const out = [line(header)];
  out.push(
    markdown ? `|${header.map((_, column) => (column === 0 ? '---' : '---:')).join('|')}|` : widths.map((width) => '-'.repeat(width)).join('  '),
  );
  for (const row of rows) out.push(line(row));
  return out.join('\n');
}

function commandLine(): string {
  const names = [
    'SUB_COUNT',
    'SUB_CONNECTIONS',
    'SUB_LISTS',
    'BENCH_SECONDS',
    'BENCH_RATE',
    'BENCH_BATCH',
    'BASELINE_SUBS',
    'BASELINE_SECONDS',
    'BENCH_ORDERS',
    'BENCH_SEED',
    'IDLE_SECONDS',
    'WARMUP_SECONDS',
    'SUB_OPEN_WINDOW',
    'BENCH_PROFILE',
    'BENCH_TRACE_GC',
    'BENCH_HEAP_SNAPSHOT',
  ];
  const set = names.filter((name) => process.env[name] !== undefined && process.env[name] !== '').map((name) => `${name}=${process.env[name]}`);
  return [...set, 'npm run bench:subscriptions'].join(' ');
}

function verdicts(main: PhaseResult, baseline: PhaseResult | undefined): string[] {
  const out: string[] = [];
  const p99 = main.latency.entity.p99;
  out.push(`entity p99 ${fmt(p99)} ms: ${p99 <= TARGET_P99_MS ? 'within' : 'ABOVE'} the ${TARGET_P99_MS} ms target`);
  if (baseline) {
    out.push(
      `ratio ${main.subscriptions} vs ${baseline.subscriptions} subscriptions: entity events p50 x${fmt(main.latency.entity.p50 / baseline.latency.entity.p50, 2)}, p99 x${fmt(main.latency.entity.p99 / baseline.latency.entity.p99, 2)}; ` +
        `all events p50 x${fmt(main.latency.all.p50 / baseline.latency.all.p50, 2)}, p99 x${fmt(main.latency.all.p99 / baseline.latency.all.p99, 2)}`,
    );
    if (baseline.latency.entity.count < 1000) out.push(`the baseline has ${baseline.latency.entity.count} entity samples: its p99 is rough`);
  }
  for (const phase of baseline ? [baseline, main] : [main]) {
    if (phase.otherCpuPercent > 25 || phase.stealPercent > 5) {
      out.push(
        `${phase.name}: other processes used ${fmt(phase.otherCpuPercent)}% of a core and steal was ${fmt(phase.stealPercent, 1)}% during the load: figures are disturbed`,
      );
    }
  }
  const problems = (phase: PhaseResult): string[] => {
    const found: string[] = [];
    const lost = phase.entity.lost + phase.listUpserts.lost;
    const dups = phase.entity.duplicates + phase.listUpserts.duplicates;
    const misrouted = phase.entity.misrouted + phase.listUpserts.misrouted;
    if (lost) found.push(`${lost} lost updates`);
    if (dups) found.push(`${dups} duplicates`);
    if (misrouted) found.push(`${misrouted} misrouted`);
    const removes = phase.listRemoves;
    if (removes.delivered > removes.expected || removes.delivered < removes.expected - removes.collapsible)
      found.push(`list REMOVEs ${phase.listRemoves.delivered} of ${phase.listRemoves.expected}`);
    if (phase.clientErrorCount) found.push(`${phase.clientErrorCount} client-side errors`);
    if (phase.open.failed) found.push(`${phase.open.failed} subscriptions failed to open`);
    if (phase.snapshotMismatches) found.push(`${phase.snapshotMismatches} stale snapshots`);
    if (phase.socketCloses.length) found.push(`${phase.socketCloses.length} unexpected socket closes`);
    if (Object.keys(phase.unexpectedKinds).length) found.push(`unexpected events ${JSON.stringify(phase.unexpectedKinds)}`);
    return found;
  };
  for (const phase of baseline ? [baseline, main] : [main]) {
    const found = problems(phase);
    out.push(`${phase.name}: ${found.length ? found.join(', ') : 'every expected event delivered once; no errors'}`);
  }
  return out;
}

function writeReport(markdown: string): void {
  let notes = '';
  if (existsSync(REPORT_MD)) {
    const existing = readFileSync(REPORT_MD, 'utf8');
    const at = existing.indexOf(NOTES_MARKER);
    if (at >= 0) notes = existing.slice(at + NOTES_MARKER.length);
  }
  writeFileSync(REPORT_MD, `${markdown}\n${NOTES_MARKER}${notes || '\n'}`);
}

// ---------------------------------------------------------------------------------------------
// Bench: main.

async function main(): Promise<void> {
  const settings = readSettings();
  installExitHandlers();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'sbench-'));
  syncCleanups.push(() => rmSync(tmp, { recursive: true, force: true }));
  const startedAt = new Date();
  let broker: Broker | undefined;
  let gateway: Gateway | undefined;
  let client: ClientHandle | undefined;
  let stopProducer: (() => Promise<void>) | undefined;
  const profileDir = settings.profile ? path.join(tmp, 'profile') : undefined;
  try {
    progress(`starting broker on 127.0.0.1:${settings.kafkaPort}`);
    broker = await startBroker(settings.kafkaPort, path.join(tmp, 'kafka'));
    progress('starting gateway');
    if (profileDir) mkdirSync(profileDir, { recursive: true });
    const heapSnapshotDir = settings.heapSnapshot ? path.join(tmp, 'heap') : undefined;
    if (heapSnapshotDir) mkdirSync(heapSnapshotDir, { recursive: true });
    gateway = await startGateway(broker.brokers, path.join(tmp, 'gateway-data'), profileDir, settings.traceGc, heapSnapshotDir);
    const gw = gateway;
    await until('/readyz', 120_000, 200, async () => ((await fetch(`${gw.url}/readyz`)).ok ? true : undefined));
    progress(`gateway pid ${gateway.pid} at ${gateway.url}`);

    const { createKafkaClient } = await import('../../src/kafka/client.ts');
    const { createLogger } = await import('../../src/log.ts');
    const kafka = createKafkaClient({
      brokers: [broker.brokers],
      clientId: 'sbench-producer',
      logger: createLogger('warn', { component: 'sbench-producer' }),
    });
    stopProducer = () => kafka.stop();
    const producer = await kafka.producer();
    const log = new UpdateLog(settings.orders);
    progress(`seeding ${settings.orders} orders`);
    const seedStart = performance.now();
    await seed(producer, log, settings.orders);
    client = startClient();
    const context: Context = {
      settings,
      gateway,
      client,
      producer,
      log,
      random: prng(settings.seed),
      brokerPid: broker.pid,
      seeded: settings.orders,
      dataDir: path.join(tmp, 'gateway-data'),
    };
    await waitApplied(context);
    progress(`seeded and applied in ${fmt(performance.now() - seedStart)} ms`);

    let warmup: DriveResult | undefined;
    if (settings.warmupSeconds > 0) {
      progress(`warm-up: ${settings.rate} updates/s for ${settings.warmupSeconds} s, no subscriptions`);
      warmup = await drive(producer, log, context.random, settings, settings.warmupSeconds);
      progress(`warm-up: produce ack p50 ${fmt(warmup.ackP50Ms)} ms, p99 ${fmt(warmup.ackP99Ms)} ms`);
    }
    const phases: PhaseResult[] = [];
    let baseline: PhaseResult | undefined;
    if (settings.baselineSubs > 0) {
      const lists = Math.max(1, Math.round(settings.baselineSubs / 100));
      const connections = Math.max(1, Math.ceil(settings.baselineSubs / Math.ceil(settings.subCount / settings.connections)));
      baseline = await runPhase(
        context,
        'baseline',
        subscriptionSpecs(settings.baselineSubs, Math.min(lists, settings.baselineSubs), settings.orders, true),
        connections,
        settings.baselineSeconds,
      );
      phases.push(baseline);
    }
    const main = await runPhase(
      context,
      'main',
      subscriptionSpecs(settings.subCount, settings.lists, settings.orders, false),
      settings.connections,
      settings.seconds,
    );
    phases.push(main);
    const gatewayLog = [...gateway.log];
    const storeEvents = Object.fromEntries(phases.map((phase) => [phase.name, phase.storeFileChanges]));
    const gcPauses = settings.traceGc
      ? Object.fromEntries(phases.map((phase) => [phase.name, gcSummary(gateway!.gcEvents, phase.loadWindow)]))
      : undefined;
    const anomalyKeys = new Set<string>();
    for (const phase of phases) {
      for (const sample of [...phase.entity.lostSamples, ...phase.listUpserts.lostSamples, ...phase.snapshotMismatchSamples])
        anomalyKeys.add(sample.key);
    }
    progress('reading the orders topic back with kcat (per-key order check)');
    const topicCheck = await checkTopicOrder(broker.brokers, log, anomalyKeys).catch((error: unknown) => ({
      error: error instanceof Error ? error.message : String(error),
    }));

    await client.ask({ cmd: 'exit' }, 30_000).catch(() => undefined);
    await Promise.race([exited(client.child), sleep(10_000)]);
    await stopProducer();
    stopProducer = undefined;
    let profile: { loadWindow: ProfileSummary; wholeRun: ProfileSummary; file: string } | undefined;
    if (profileDir) {
      await terminate(gateway.child, 60_000);
      const exitWall = Date.now();
      const file = path.join(profileDir, 'subscriptions-gateway.cpuprofile');
      if (existsSync(file)) {
        mkdirSync(RESULTS_DIR, { recursive: true });
        const kept = path.join(RESULTS_DIR, 'subscriptions-gateway.cpuprofile');
        writeFileSync(kept, readFileSync(file));
        profile = {
          loadWindow: summarizeProfile(file, main.loadWindow, exitWall, 25),
          wholeRun: summarizeProfile(file, undefined, exitWall, 25),
          file: path.relative(REPO, kept),
        };
      } else progress('no CPU profile was written');
    }

    // Output.
    const header = ['figure', ...phases.map((phase) => `${phase.name} (${phase.subscriptions} subs)`)];
    const rows = tableRows(phases);
    const verdictLines = verdicts(main, baseline);
    const cpuModel = os.cpus()[0]?.model ?? 'unknown CPU';
    const machine = `${os.cpus().length} × ${cpuModel}, ${fmt(os.totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}, ${os.type()} ${os.release()}`;
    process.stdout.write(`\nSubscription benchmark: ${settings.rate} updates/s, batches of ${settings.batch}, ${main.connections} connections\n`);
    process.stdout.write(`${machine}\n\n${renderTable(header, rows, false)}\n\n`);
    for (const line of verdictLines) process.stdout.write(`- ${line}\n`);
    process.stdout.write(`- topic read back: ${JSON.stringify(topicCheck)}\n`);
    for (const phase of phases)
      for (const sample of phase.snapshotMismatchSamples) process.stdout.write(`${phase.name} stale snapshot: ${JSON.stringify(sample)}\n`);
    if (gatewayLog.length) process.stdout.write(`\ngateway stderr (${gatewayLog.length} lines, first 5):\n${gatewayLog.slice(0, 5).join('\n')}\n`);
    for (const phase of phases) {
      for (const sample of [...phase.entity.lostSamples, ...phase.listUpserts.lostSamples].slice(0, 5))
        process.stdout.write(`${phase.name} lost: ${JSON.stringify(sample)}\n`);
      for (const error of [...phase.open.errors, ...phase.clientErrors].slice(0, 5)) process.stdout.write(`${phase.name} error: ${error}\n`);
      for (const close of phase.socketCloses.slice(0, 5)) process.stdout.write(`${phase.name} close: ${close}\n`);
    }
    if (main.heap) {
      process.stdout.write(
        `\nidle gateway heap with ${main.subscriptions} subscriptions: ${main.heap.totalMb} MB in ${main.heap.nodes} objects; largest groups (count per subscription):\n`,
      );
      for (const entry of main.heap.top.slice(0, 25))
        process.stdout.write(
          `  ${String(entry.mb).padStart(6)} MB  ${String(entry.count).padStart(8)}  (${entry.perSubscription}/sub)  ${entry.name}\n`,
        );
    }
    for (const [phase, summary] of Object.entries(gcPauses ?? {})) {
      process.stdout.write(
        `\ngateway GC during the ${phase} load: ${summary.count} GCs, ${fmt(summary.totalPauseMs)} ms paused; over 20 ms or full: ${summary.long.length ? summary.long.join(', ') : 'none'}\n`,
      );
      for (const line of summary.fullGcLines) process.stdout.write(`  ${line}\n`);
    }
    for (const [phase, events] of Object.entries(storeEvents))
      process.stdout.write(
        `\nRocksDB file changes (flush: new WAL + .sst; compaction: .sst replaced) during the ${phase} load: ${events.length ? events.join(', ') : 'none'}\n`,
      );
    const worst = [...main.timeline1s].sort((a, b) => b.p99 - a.p99).slice(0, 5);
    process.stdout.write(
      `\nmain phase, worst seconds by entity p99: ${worst.map((s) => `+${s.fromSecond} s p99 ${fmt(s.p99)} ms (gateway CPU ${s.gatewayCpu ?? '?'}%, machine busy ${s.machineBusy ?? '?'}%, steal ${s.steal ?? '?'}%${s.storeFiles ? `, store files ${s.storeFiles}` : ''})`).join('; ')}\n`,
    );
    process.stdout.write(`\nmain phase latency per 5 s of send time (entity events):\n`);
    for (const bucket of main.timeline)
      process.stdout.write(
        `  ${String(bucket.fromSecond).padStart(4)} s  n=${String(bucket.count).padStart(5)}  p50 ${fmt(bucket.p50).padStart(4)}  p99 ${fmt(bucket.p99).padStart(5)}  max ${fmt(bucket.max).padStart(5)}  produce ack p50 ${fmt(bucket.ackP50).padStart(4)} p99 ${fmt(bucket.ackP99).padStart(5)}\n`,
      );
    if (profile) {
      process.stdout.write(`\ngateway CPU profile, top self time during the main load window, % of busy samples (${profile.file}):\n`);
      const window = profile.loadWindow;
      process.stdout.write(
        `  main thread busy ${window.busyMs} ms, idle ${window.idleMs} ms (${fmt((100 * window.busyMs) / (window.busyMs + window.idleMs))}% busy)\n`,
      );
      for (const entry of window.areas)
        process.stdout.write(`  ${fmt(entry.percent, 1).padStart(5)}%  ${String(entry.selfMs).padStart(6)} ms  [${entry.fn}]\n`);
      for (const entry of window.top)
        process.stdout.write(`  ${fmt(entry.percent, 1).padStart(5)}%  ${String(entry.selfMs).padStart(6)} ms  ${entry.fn}\n`);
    }

    mkdirSync(RESULTS_DIR, { recursive: true });
    const json = {
      startedAt: startedAt.toISOString(),
      command: commandLine(),
      machine,
      settings,
      warmup,
      phases,
      topicCheck,
      storeEvents,
      gcPauses,
      verdicts: verdictLines,
      gatewayLog,
      profile,
    };
    writeFileSync(RESULTS_JSON, `${JSON.stringify(json, null, 2)}\n`);
    const markdown = [
      '# Subscription benchmark',
      '',
      `Generated by \`test/bench/subscriptions.ts\` on ${startedAt.toISOString()}.`,
      '',
      `Command: \`${commandLine()}\``,
      '',
      `Machine: ${machine}. Broker, gateway, subscriber client and producer share this machine.`,
      '',
      `Setup: one gateway (\`node src/main.ts\`, 6 partitions, LOG_LEVEL=warn) and a fresh local broker; ${settings.orders} orders seeded;`,
      `the subscriptions held by a separate client process over raw graphql-transport-ws sockets; ${settings.rate} updates/s to seeded-random keys`,
      `among all orders, ${settings.batch} records per produce request every ${fmt((1000 * settings.batch) / settings.rate)} ms, about ${VALIDATED_SHARE * 100}% of them setting VALIDATED.`,
      "Latency is produce-to-client: the client's Date.now() at receipt minus the send time embedded in `updatedAt`.",
      `List subscriptions are \`ordersChanged(filter: {state: {eq: VALIDATED}}, first: 1)\`; entity subscriptions \`orderChanged(orderId)\` on distinct keys.`,
      '',
      renderTable(header, rows, true),
      '',
      ...verdictLines.map((line) => `- ${line}`),
      `- topic read back with kcat: \`${JSON.stringify(topicCheck)}\``,
      '',
      ...Object.entries(gcPauses ?? {}).map(
        ([phase, summary]) =>
          `- gateway GC during the ${phase} load (\`--trace-gc\`): ${summary.count} GCs, ${fmt(summary.totalPauseMs)} ms paused; over 20 ms or full: ${summary.long.length ? summary.long.join(', ') : 'none'}`,
      ),
      ...Object.entries(storeEvents).map(
        ([phase, events]) =>
          `- RocksDB file changes during the ${phase} load (flush: new WAL and .sst; compaction: .sst replaced): ${events.length ? events.join(', ') : 'none'}`,
      ),
      '',
      `Main phase, worst seconds by entity p99 (gateway CPU in % of a core; machine busy and steal in % of all cores): ${[...main.timeline1s]
        .sort((a, b) => b.p99 - a.p99)
        .slice(0, 5)
        .map(
          (s) =>
            `+${s.fromSecond} s p99 ${fmt(s.p99)} ms (gateway ${s.gatewayCpu ?? '?'}%, busy ${s.machineBusy ?? '?'}%, steal ${s.steal ?? '?'}%${s.storeFiles ? `, store files ${s.storeFiles}` : ''})`,
        )
        .join('; ')}.`,
      '',
      'Main phase, entity events per 5 s of send time:',
      '',
      renderTable(
        ['from s', 'events', 'p50 ms', 'p99 ms', 'max ms', 'produce ack p50 ms', 'produce ack p99 ms'],
        main.timeline.map((bucket) => [
          String(bucket.fromSecond),
          String(bucket.count),
          fmt(bucket.p50),
          fmt(bucket.p99),
          fmt(bucket.max),
          fmt(bucket.ackP50),
          fmt(bucket.ackP99),
        ]),
        true,
      ),
      '',
      ...(profile
        ? [
            'Gateway CPU profile (`node --cpu-prof`), top self time during the main load window, % of busy samples:',
            '',
            `Main thread busy ${profile.loadWindow.busyMs} ms, idle ${profile.loadWindow.idleMs} ms of the window.`,
            '',
            renderTable(
              ['area', '%', 'ms'],
              profile.loadWindow.areas.map((entry) => [entry.fn, fmt(entry.percent, 1), String(entry.selfMs)]),
              true,
            ),
            '',
            renderTable(
              ['function', '%', 'ms'],
              profile.loadWindow.top.slice(0, 15).map((entry) => [`\`${entry.fn}\``, fmt(entry.percent, 1), String(entry.selfMs)]),
              true,
            ),
            '',
          ]
        : []),
      `Raw figures: \`test/bench/results/subscriptions.json\` (not committed).`,
      '',
    ].join('\n');
    writeReport(markdown);
    process.stdout.write(`\nwrote ${path.relative(REPO, RESULTS_JSON)} and ${path.relative(REPO, REPORT_MD)}\n`);
  } finally {
    if (client) {
      if (client.child.exitCode === null) client.child.kill('SIGKILL');
    }
    if (stopProducer) await stopProducer().catch(() => undefined);
    if (gateway) await terminate(gateway.child, 30_000);
    if (broker) {
      progress('stopping broker');
      await broker.stop().catch((error: unknown) => process.stderr.write(`bench: broker stop failed: ${String(error)}\n`));
    }
    rmSync(tmp, { recursive: true, force: true });
    syncCleanups.length = 0;
  }
}

if (process.argv[2] === 'client') runClient();
else {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      killChildren();
      process.exit(1);
    },
  );
}

/**
 * Benchmark knobs, all from environment variables (BENCH_*), validated once at start so a typo
 * fails before a broker is started. BENCHMARKS.md lists them.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
export const TOPIC_PREFIX = 'bench.';
export const TOPICS = ['customers', 'orders', 'payments'] as const;
export type TopicName = (typeof TOPICS)[number];
export const PARTITIONS = 6;

/**
 * V8 flags of `npm start` (package.json):
 * - a 16 MB semi-space instead of the 64 MB V8 picks on a large machine, and an old space capped
 *   at 1 GB, so the heap does not grow far past its live size;
 * - one V8 helper thread instead of Node's four, and young-generation GCs run by the thread that
 *   allocates: fewer threads competing for the cores, and no scavenge waiting for a helper the
 *   OS has not scheduled yet.
 * The bench runs the gateway as `npm start` does; BENCHMARKS.md has their effect on RSS, QPS,
 * the one-client p99 and the event-loop delay during a catch-up.
 */
export const GATEWAY_NODE_FLAGS = ['--max-semi-space-size=16', '--max-old-space-size=1024', '--v8-pool-size=1', '--no-parallel-scavenge'] as const;

/**
 * Sets of node flags to measure side by side (BENCH_NODE_FLAGS, AB_NODE_FLAGS): `;`-separated,
 * each added after GATEWAY_NODE_FLAGS (node takes the last value of a flag); an empty set is
 * `npm start` as it is.
 */
export function nodeFlagSets(value: string | undefined): string[][] {
  return (value ?? '').split(';').map((set) => set.trim().split(/\s+/).filter(Boolean));
}

/** jemalloc from Debian's libjemalloc2 (`deploy/gw setup` installs it). */
export const JEMALLOC = '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2';

/**
 * Environment for a gateway process as `npm start` runs it: with jemalloc preloaded when it is
 * installed, and its background purge thread on, so freed pages go back to the system while the
 * process is idle too. glibc's malloc keeps much of the memory RocksDB's flushes and compactions
 * free (figures in BENCHMARKS.md).
 */
export function gatewayAllocatorEnv(): Record<string, string> {
  return existsSync(JEMALLOC) ? { LD_PRELOAD: JEMALLOC, MALLOC_CONF: 'background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0' } : {};
}

export interface BenchSettings {
  /** Orders in the generated history (BENCH_ORDERS, default 1 000 000). */
  readonly orders: number;
  /** Customers (BENCH_CUSTOMERS, default orders / 20, at least 1000). */
  readonly customers: number;
  /** Generator seed (BENCH_SEED). */
  readonly seed: number;
  /** Broker port of the bench's own broker (BENCH_KAFKA_PORT, default 49092). */
  readonly kafkaPort: number;
  /** Seconds per measured wrk run (BENCH_DURATION, default 15). */
  readonly durationSeconds: number;
  /**
   * Measured rounds per HTTP figure and for the kcat baseline (BENCH_ROUNDS, default 3): the table
   * shows medians; gateway and baseline lookups alternate round by round.
   */
  readonly rounds: number;
  /** Seconds of unmeasured warm-up before each wrk run (BENCH_WARMUP, default 3; 0 = none). */
  readonly warmupSeconds: number;
  /** wrk connections and threads for the concurrent runs (BENCH_CONNECTIONS 32, BENCH_THREADS 2). */
  readonly connections: number;
  readonly threads: number;
  /** Upper bound on the gateway's catch-up time (BENCH_INGEST_TIMEOUT, seconds, default 1800). */
  readonly ingestTimeoutSeconds: number;
  /** Extra profiled ingest run with `node --cpu-prof` at the end (BENCH_PROFILE=1). */
  readonly profile: boolean;
  /**
   * Order updates per second written while grid pages are measured once more after the HTTP
   * runs (BENCH_LIVE_UPDATES, default 1000; 0 skips those rounds).
   */
  readonly liveUpdates: number;
  /**
   * Kafka Streams KTable ingest baseline (BENCH_KAFKA_STREAMS, default 1; 0 skips it): 1 and 2
   * stream threads at_least_once, 1 thread exactly_once_v2, BENCH_ROUNDS rounds each.
   */
  readonly kafkaStreams: boolean;
  /** The ingest floor: the gateway's store writes without Kafka (BENCH_INGEST_FLOOR, default 1; 0 skips it). */
  readonly ingestFloor: boolean;
  /**
   * Records the gateway's main thread with `perf` during the catch-up, to tell the stalls in
   * which the host held the core (./host-pauses.ts) (BENCH_HOST_PAUSES, default 1 where `perf`
   * works; 0 skips it).
   */
  readonly hostPauses: boolean;
  /** kcat -z codec for the pre-fill (BENCH_COMPRESSION: none, gzip, snappy, lz4, zstd; default none). */
  readonly compression: string;
  /** Ids embedded in the lookup script (fixed) and orders in the baseline server's map. */
  readonly lookupIds: number;
  readonly baselineOrders: number;
  /**
   * The PostgreSQL 15 + PostGraphile v5 baseline (BENCH_POSTGRES, default 1; 0 skips it, and with
   * it the whole-data-set lookups) and its pg pool size (BENCH_PG_POOL, default 8).
   */
  readonly postgres: boolean;
  readonly postgresPool: number;
  /** Directory of results (latest.json). */
  readonly resultsDir: string;
  /** Parent of the bench's temp dirs (broker state, gateway data, scripts). */
  readonly tmpRoot: string;
}

type Env = Readonly<Record<string, string | undefined>>;

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const text = raw.trim().replaceAll('_', '');
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max}; got ${JSON.stringify(raw)}`);
  }
  return value;
}

function flag(env: Env, name: string, fallback = false): boolean {
  const raw = (env[name] ?? '').trim().toLowerCase();
  if (raw === '') return fallback;
  if (raw === '0' || raw === 'false' || raw === 'no') return false;
  if (raw === '1' || raw === 'true' || raw === 'yes') return true;
  throw new Error(`${name} must be 0 or 1; got ${JSON.stringify(env[name])}`);
}

function codec(env: Env): string {
  const raw = (env.BENCH_COMPRESSION ?? '').trim() || 'none';
  if (!['none', 'gzip', 'snappy', 'lz4', 'zstd'].includes(raw)) {
    throw new Error(`BENCH_COMPRESSION must be none, gzip, snappy, lz4 or zstd; got ${JSON.stringify(raw)}`);
  }
  return raw;
}

/** A comma-separated list of integers from `min` to `max` in `env[name]`, or `fallback`. */
export function integerList(env: Env, name: string, fallback: string, min: number, max: number): number[] {
  const raw = env[name] ?? fallback;
  const list = raw.split(',').map((part) => Number(part.trim()));
  if (list.length === 0 || list.some((value) => !Number.isInteger(value) || value < min || value > max)) {
    throw new Error(`${name} must be comma-separated integers from ${min} to ${max}; got ${JSON.stringify(raw)}`);
  }
  return list;
}

/** The bench's customers for a number of orders, unless BENCH_CUSTOMERS says otherwise. */
export function defaultCustomers(orders: number): number {
  return Math.max(1000, Math.round(orders / 20));
}

export function loadSettings(env: Env = process.env): BenchSettings {
  const orders = integer(env, 'BENCH_ORDERS', 1_000_000, 1000, 50_000_000);
  return {
    orders,
    customers: integer(env, 'BENCH_CUSTOMERS', defaultCustomers(orders), 10, 10_000_000),
    seed: integer(env, 'BENCH_SEED', 20_251_122, 0, 2 ** 31 - 1),
    kafkaPort: integer(env, 'BENCH_KAFKA_PORT', 49092, 1024, 65534),
    durationSeconds: integer(env, 'BENCH_DURATION', 15, 1, 600),
    rounds: integer(env, 'BENCH_ROUNDS', 3, 1, 20),
    warmupSeconds: integer(env, 'BENCH_WARMUP', 3, 0, 120),
    connections: integer(env, 'BENCH_CONNECTIONS', 32, 1, 1024),
    threads: integer(env, 'BENCH_THREADS', 2, 1, 64),
    ingestTimeoutSeconds: integer(env, 'BENCH_INGEST_TIMEOUT', 1800, 10, 86_400),
    profile: flag(env, 'BENCH_PROFILE'),
    liveUpdates: integer(env, 'BENCH_LIVE_UPDATES', 1000, 0, 100_000),
    kafkaStreams: (env.BENCH_KAFKA_STREAMS ?? '').trim() === '' || flag(env, 'BENCH_KAFKA_STREAMS'),
    ingestFloor: flag(env, 'BENCH_INGEST_FLOOR', true),
    hostPauses: flag(env, 'BENCH_HOST_PAUSES', true),
    compression: codec(env),
    lookupIds: Math.min(10_000, orders),
    baselineOrders: Math.min(100_000, orders),
    postgres: flag(env, 'BENCH_POSTGRES', true),
    postgresPool: integer(env, 'BENCH_PG_POOL', 8, 1, 200),
    resultsDir: path.join(REPO_ROOT, 'test/bench/results'),
    tmpRoot: os.tmpdir(),
  };
}

/** A value as a shell word: quoted when it holds anything but plain characters. */
function shellWord(value: string): string {
  return /^[\w@%+=:,./-]*$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}

/** The command line that reproduces the bench's figures: the BENCH_* variables set, then the command. */
export function commandLine(env: Env = process.env, script = { npm: 'bench', file: 'test/bench/run.ts' }): string {
  const knobs = Object.keys(env)
    .filter((name) => name.startsWith('BENCH_'))
    .sort()
    .map((name) => `${name}=${shellWord(env[name] ?? '')}`);
  const command = env.npm_lifecycle_event === script.npm ? `npm run ${script.npm}` : `node ${script.file}`;
  const args = process.argv.slice(2);
  return [...knobs, command, ...args].join(' ');
}

/**
 * The PostgreSQL side of the PostGraphile baseline: a throwaway PostgreSQL 15 cluster (Debian's
 * `postgresql-15`, which `deploy/gw setup` installs) in the bench's temp dir, on a free loopback
 * port, holding the same data the gateway materializes.
 *
 * Settings, for a 2-core / 24 GB machine that serves a read benchmark from a database it can
 * rebuild at will: shared_buffers 1 GB (the whole 1M-order data set and its indexes fit),
 * effective_cache_size 4 GB, work_mem 32 MB, random_page_cost 1.1 (SSD), jit off (short OLTP
 * queries; JIT compilation only adds latency), autovacuum off (the data never changes; VACUUM
 * ANALYZE runs once after the load), timezone UTC, locale C (text sorts by bytes, as the
 * gateway's keys do). Durability is off for the load only: fsync, synchronous_commit and
 * full_page_writes off, wal_level minimal. None of these changes what a read costs.
 *
 * Schema: customers, orders and payments with the views' fields (views/*.ts) as snake_case
 * columns: ids and strings text, enums as PostgreSQL enum types (GraphQL enums in PostGraphile, as
 * in the gateway), int as integer, float as double precision, timestamps as timestamptz. Primary
 * keys on the ids; foreign keys orders.customer_id and payments.order_id (PostGraphile's
 * relations); for the grid one index per filter (state, currency, both) and sort key (created_at,
 * updated_at), each ending in order_id, so a page is an index range scan in the order the gateway
 * returns (sort value, then key); payments (order_id, created_at, payment_id) for `Order.payments`.
 *
 * Data: the generator's records (the same seed and sizes as the pre-fill) are streamed through
 * `COPY ... FROM STDIN` (one psql per topic, with back-pressure) into unlogged staging tables in
 * produce order; the final tables then take the last value per key and drop keys whose last value
 * is a tombstone, which is what a compacted topic and the gateway hold.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { createDataGenerator, type GeneratedRecord } from '../../src/demo/generator.ts';
import { exited, onCleanup, spawnTracked, terminate } from './cleanup.ts';
import { freePort, logTail } from './servers.ts';
import { TOPICS, type BenchSettings, type TopicName } from './settings.ts';

export const PG_BIN = '/usr/lib/postgresql/15/bin';

const SETTINGS: Record<string, string> = {
  listen_addresses: '127.0.0.1',
  max_connections: '100',
  shared_buffers: '1GB',
  effective_cache_size: '4GB',
  work_mem: '32MB',
  maintenance_work_mem: '512MB',
  random_page_cost: '1.1',
  jit: 'off',
  autovacuum: 'off',
  timezone: 'UTC',
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
  wal_level: 'minimal',
  max_wal_senders: '0',
  max_wal_size: '8GB',
  checkpoint_timeout: '1h',
  logging_collector: 'off',
  log_min_messages: 'warning',
};

export interface Postgres {
  readonly port: number;
  /** libpq URL for the superuser `postgres` on database `bench` (trust auth, loopback only). */
  readonly url: string;
  readonly settings: Readonly<Record<string, string>>;
  readonly version: string;
  /** Runs SQL through psql; returns its stdout (unaligned, tuples only). */
  sql(text: string): string;
  /** Runs a query through psql with stdout to `file` (e.g. one JSON object per line). */
  exportTo(query: string, file: string): Promise<void>;
  stop(): Promise<void>;
}

/** Runs as `postgres` when the bench runs as root (initdb refuses root). */
function account(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string): number => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

export async function startPostgres(work: string): Promise<Postgres> {
  const user = account();
  const dir = path.join(work, 'postgres');
  const dataDir = path.join(dir, 'data');
  mkdirSync(dir, { recursive: true });
  if (user) {
    chmodSync(work, 0o711); // the postgres user must reach its directory inside the bench's temp dir
    chownSync(dir, user.uid, user.gid);
  }
  const as = user ? { uid: user.uid, gid: user.gid } : {};
  const env = { ...process.env, LC_ALL: 'C', PGTZ: 'UTC' };
  execFileSync(`${PG_BIN}/initdb`, ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C'], {
    ...as,
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const port = await freePort();
  const logFile = path.join(work, 'postgres.log');
  const log = createWriteStream(logFile);
  await once(log, 'open');
  const args = ['-D', dataDir, '-p', String(port), '-k', dir, ...Object.entries(SETTINGS).flatMap(([key, value]) => ['-c', `${key}=${value}`])];
  const server: ChildProcess = spawnTracked(`${PG_BIN}/postgres`, args, { ...as, env, stdio: ['ignore', log, log] });
  // On SIGINT/SIGTERM the bench cannot wait for events: SIGQUIT is PostgreSQL's immediate
  // shutdown. (`pg_ctl stop -w` waited here for its own 60 s timeout: the postmaster, a child of
  // this process, stays a zombie while this process is blocked, so pg_ctl saw it running.)
  const stopSync = (): void => {
    server.kill('SIGQUIT');
    rmSync(dir, { recursive: true, force: true });
  };
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await terminate(server, 'SIGINT', 30_000); // SIGINT: fast shutdown
    rmSync(dir, { recursive: true, force: true });
  };
  onCleanup('stop PostgreSQL', stop, stopSync);

  const psqlArgs = ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-X', '-q', '-v', 'ON_ERROR_STOP=1'];
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      execFileSync(`${PG_BIN}/pg_isready`, ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres'], { stdio: 'ignore' });
      break;
    } catch {
      if (server.exitCode !== null || Date.now() > deadline) throw new Error(`PostgreSQL did not start:\n${logTail(logFile)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  execFileSync(`${PG_BIN}/psql`, [...psqlArgs, '-d', 'postgres', '-c', 'CREATE DATABASE bench'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const sql = (text: string): string =>
    execFileSync(`${PG_BIN}/psql`, [...psqlArgs, '-d', 'bench', '-At'], {
      input: text,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  const exportTo = async (query: string, file: string): Promise<void> => {
    const out = createWriteStream(file);
    await once(out, 'open');
    // FETCH_COUNT: psql fetches through a cursor instead of holding the whole result.
    const child = spawnTracked(`${PG_BIN}/psql`, [...psqlArgs, '-d', 'bench', '-At', '-v', 'FETCH_COUNT=10000', '-c', query], {
      stdio: ['ignore', out, 'pipe'],
    });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const code = await exited(child);
    out.close();
    if (code !== 0) throw new Error(`psql export exited with ${code}: ${stderr.slice(-2000)}`);
  };
  const version = sql('SHOW server_version').trim();
  return { port, url: `postgres://postgres@127.0.0.1:${port}/bench`, settings: SETTINGS, version, sql, exportTo, stop };
}

const SCHEMA = `
CREATE TYPE customer_tier AS ENUM ('BRONZE', 'SILVER', 'GOLD', 'PLATINUM');
CREATE TYPE order_state AS ENUM ('CREATED', 'VALIDATED', 'FAILED', 'SHIPPED', 'CANCELLED');
CREATE TYPE payment_method AS ENUM ('CARD', 'BANK_TRANSFER', 'WALLET');
CREATE TYPE payment_status AS ENUM ('PENDING', 'CAPTURED', 'FAILED', 'REFUNDED');
CREATE TABLE customers (
  customer_id text NOT NULL, name text NOT NULL, email text, tier customer_tier NOT NULL, country text NOT NULL,
  created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
CREATE TABLE orders (
  order_id text NOT NULL, customer_id text NOT NULL, state order_state NOT NULL, product text NOT NULL,
  quantity integer NOT NULL, unit_price double precision NOT NULL, currency text NOT NULL,
  created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
CREATE TABLE payments (
  payment_id text NOT NULL, order_id text NOT NULL, amount double precision NOT NULL, currency text NOT NULL,
  method payment_method NOT NULL, status payment_status NOT NULL, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
${TOPICS.map((topic) => `CREATE UNLOGGED TABLE stage_${topic} (seq bigserial, key text NOT NULL, value jsonb);`).join('\n')}
`;

/** Last value per key, tombstoned keys left out. */
const latest = (topic: TopicName): string =>
  `(SELECT value AS v FROM (SELECT DISTINCT ON (key) value FROM stage_${topic} ORDER BY key, seq DESC) last WHERE value IS NOT NULL) s`;

const FINALIZE = `
INSERT INTO customers SELECT v->>'customerId', v->>'name', v->>'email', (v->>'tier')::customer_tier, v->>'country',
  (v->>'createdAt')::timestamptz, (v->>'updatedAt')::timestamptz FROM ${latest('customers')};
INSERT INTO orders SELECT v->>'orderId', v->>'customerId', (v->>'state')::order_state, v->>'product', (v->>'quantity')::integer,
  (v->>'unitPrice')::double precision, v->>'currency', (v->>'createdAt')::timestamptz, (v->>'updatedAt')::timestamptz FROM ${latest('orders')};
INSERT INTO payments SELECT v->>'paymentId', v->>'orderId', (v->>'amount')::double precision, v->>'currency',
  (v->>'method')::payment_method, (v->>'status')::payment_status, (v->>'createdAt')::timestamptz, (v->>'updatedAt')::timestamptz
  FROM ${latest('payments')};
${TOPICS.map((topic) => `DROP TABLE stage_${topic};`).join('\n')}
ALTER TABLE customers ADD PRIMARY KEY (customer_id);
ALTER TABLE orders ADD PRIMARY KEY (order_id);
ALTER TABLE payments ADD PRIMARY KEY (payment_id);
ALTER TABLE orders ADD FOREIGN KEY (customer_id) REFERENCES customers (customer_id);
ALTER TABLE payments ADD FOREIGN KEY (order_id) REFERENCES orders (order_id);
CREATE INDEX orders_customer ON orders (customer_id);
CREATE INDEX orders_state_created ON orders (state, created_at, order_id);
CREATE INDEX orders_state_updated ON orders (state, updated_at, order_id);
CREATE INDEX orders_currency_created ON orders (currency, created_at, order_id);
CREATE INDEX orders_currency_updated ON orders (currency, updated_at, order_id);
CREATE INDEX orders_state_currency_created ON orders (state, currency, created_at, order_id);
CREATE INDEX orders_state_currency_updated ON orders (state, currency, updated_at, order_id);
CREATE INDEX payments_order ON payments (order_id, created_at, payment_id);
VACUUM ANALYZE;
`;

/** COPY text format: backslash is the escape character; JSON.stringify already escapes tabs and newlines. */
const copyField = (text: string): string => text.replaceAll('\\', '\\\\');

interface CopyWriter {
  readonly child: ChildProcess;
  readonly stderr: string[];
  readonly done: Promise<number | string>;
  lines: string[];
}

export interface PostgresLoad {
  readonly ms: number;
  readonly rows: Record<TopicName, number>;
  readonly bytes: number;
}

/** Loads the final state of the generated data (the pre-fill's seed and sizes); see the header. */
export async function loadGeneratedData(pg: Postgres, settings: BenchSettings): Promise<PostgresLoad> {
  const started = performance.now();
  pg.sql(SCHEMA);
  const psqlArgs = ['-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', 'bench'];
  const writers = new Map<TopicName, CopyWriter>(
    TOPICS.map((topic): [TopicName, CopyWriter] => {
      const child = spawnTracked(`${PG_BIN}/psql`, [...psqlArgs, '-c', `COPY stage_${topic} (key, value) FROM STDIN`], {
        stdio: ['pipe', 'ignore', 'pipe'],
      });
      const stderr: string[] = [];
      child.stderr!.setEncoding('utf8').on('data', (text: string) => stderr.push(text));
      return [topic, { child, stderr, done: exited(child), lines: [] as string[] }];
    }),
  );
  let bytes = 0;
  const take = async (chunk: readonly GeneratedRecord[]): Promise<void> => {
    for (const record of chunk) {
      const value = record.value === null ? '\\N' : copyField(JSON.stringify(record.value));
      writers.get(record.topic)!.lines.push(`${copyField(record.key)}\t${value}\n`);
    }
    for (const writer of writers.values()) {
      if (writer.lines.length === 0) continue;
      const text = writer.lines.join('');
      writer.lines = [];
      bytes += text.length;
      if (!writer.child.stdin!.write(text)) await once(writer.child.stdin!, 'drain');
    }
  };
  const generator = createDataGenerator({ seed: settings.seed, customers: settings.customers });
  await take(generator.customers());
  for (const chunk of generator.history(settings.orders, { chunk: 2000 })) await take(chunk);
  for (const [topic, writer] of writers) {
    writer.child.stdin!.end();
    const code = await writer.done;
    if (code !== 0) throw new Error(`COPY into stage_${topic} exited with ${code}: ${writer.stderr.join('').slice(-2000)}`);
  }
  pg.sql(FINALIZE);
  const counts = pg
    .sql(TOPICS.map((topic) => `SELECT count(*) FROM ${topic};`).join('\n'))
    .trim()
    .split('\n')
    .map(Number);
  const rows = Object.fromEntries(TOPICS.map((topic, i) => [topic, counts[i] ?? 0])) as Record<TopicName, number>;
  return { ms: performance.now() - started, rows, bytes };
}

/**
 * The floor of ingest under the gateway's design: the bench's records written into the
 * gateway's store by the gateway's own code, with no Kafka, no consumer and no yields. What is
 * left is what materializing a view costs here: decoding and checking each record against its
 * view, and one atomic RocksDB batch per slice with the rows, their index entries, change-log
 * entries, counters and the partition's next offset.
 *
 *   node test/bench/ingest-floor.ts <work dir>     (BENCH_ORDERS, BENCH_CUSTOMERS, BENCH_SEED)
 *
 * The records come from the bench's seeded generator (the pre-fill's records, on the same
 * partitions), held in one buffer per partition so that garbage collection does not trace them.
 * Two stores are filled in turn, each fresh:
 *
 * - `indexed`: the views as declared (what the gateway writes);
 * - `rows`: the same views without sort keys, filters or relations (a row, its change-log entry
 *   and the offset per record: the least a view needs for lookups by key).
 *
 * Slices go round-robin over the partitions, SLICE records each, as ingest applies them. Decoding
 * and the store's write are timed apart; process CPU includes RocksDB's flush and compaction
 * threads. Prints one JSON line. Figures only: it asserts nothing but that every record applied.
 */
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { PARTITIONERS } from '../../src/cluster/partitioner.ts';
import { loadConfig } from '../../src/config.ts';
import { createDataGenerator } from '../../src/demo/generator.ts';
import { decodeRecord } from '../../src/ingest/decode.ts';
import { openKeyValueStore } from '../../src/store/rocks.ts';
import { keepRocksDbThreadsLow } from '../../src/store/thread-priority.ts';
import { openViewStore, type RowChange, type ViewStore } from '../../src/store/view-store.ts';
import type { ViewDeclaration } from '../../src/views/declaration.ts';
import { compileViews, loadViewDeclarations } from '../../src/views/model.ts';
import { exited, spawnTracked } from './cleanup.ts';
import { loadSettings, PARTITIONS, REPO_ROOT } from './settings.ts';

/** Records per slice: INGEST_SLICES' first slice, near its steady size on the bench machine. */
const SLICE = 500;

interface Partition {
  readonly topic: string;
  readonly partition: number;
  readonly keys: Buffer;
  readonly values: Buffer;
  /** Per record: key end, value start, value end (-1 for a tombstone). */
  readonly bounds: Int32Array;
  readonly count: number;
}

export interface FloorVariant {
  readonly name: 'indexed' | 'rows';
  readonly records: number;
  /** Store writes (`ViewStore.apply`) alone, summed over the slices. */
  readonly writeSeconds: number;
  /** Decoding and checking against the view alone, summed over the slices. */
  readonly decodeSeconds: number;
  readonly wallSeconds: number;
  readonly mainThreadCpuSeconds: number;
  /** The whole process, RocksDB's background threads included, first slice to last. */
  readonly processCpuSeconds: number;
  readonly writesPerSecond: number;
  readonly decodeAndWritePerSecond: number;
}

/** The bench's records, as the pre-fill produced them, per topic and partition. */
function generate(): Partition[] {
  const settings = loadSettings(process.env);
  const generator = createDataGenerator({ seed: settings.seed, customers: settings.customers });
  const partitionOf = PARTITIONERS.murmur2;
  const parts = new Map<string, { keys: Buffer[]; values: Array<Buffer | null> }>();
  const take = (records: ReturnType<typeof generator.customers>): void => {
    for (const record of records) {
      const key = Buffer.from(record.key);
      const id = `${record.topic}/${partitionOf(key, PARTITIONS)}`;
      let part = parts.get(id);
      if (!part) parts.set(id, (part = { keys: [], values: [] }));
      part.keys.push(key);
      part.values.push(record.value === null ? null : Buffer.from(JSON.stringify(record.value)));
    }
  };
  take(generator.customers());
  for (const chunk of generator.history(settings.orders, { chunk: 2000 })) take(chunk);
  return [...parts].map(([id, { keys, values }]) => {
    const bounds = new Int32Array(keys.length * 3);
    let keyEnd = 0;
    let valueEnd = 0;
    keys.forEach((key, i) => {
      keyEnd += key.length;
      bounds[i * 3] = keyEnd;
      bounds[i * 3 + 1] = valueEnd;
      valueEnd += values[i]?.length ?? 0;
      bounds[i * 3 + 2] = values[i] === null ? -1 : valueEnd;
    });
    const [topic, partition] = id.split('/');
    const present = values.filter((value): value is Buffer => value !== null);
    return { topic: topic!, partition: Number(partition), keys: Buffer.concat(keys), values: Buffer.concat(present), bounds, count: keys.length };
  });
}

/** The views without anything beyond rows: no sort keys, filters or relations. */
function rowsOnly(declarations: readonly ViewDeclaration[]): ViewDeclaration[] {
  return declarations.map(({ relations: _relations, authorization: _authorization, ...view }) => ({ ...view, sortKeys: [], filters: [] }));
}

async function fill(
  name: FloorVariant['name'],
  parts: readonly Partition[],
  declarations: readonly ViewDeclaration[],
  dir: string,
): Promise<FloorVariant> {
  const config = loadConfig({ KAFKA_BROKERS: '127.0.0.1:9092', DATA_DIR: dir });
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const kv = await openKeyValueStore(dir, { cacheSize: config.storeCacheMb * 1024 * 1024, memtableBudget: config.storeMemtableMb * 1024 * 1024 });
  const background = keepRocksDbThreadsLow(config.storeBackgroundNice);
  const stores = new Map<string, ViewStore>();
  for (const view of compileViews(declarations)) stores.set(view.topic, await openViewStore(kv, view, { rowCache: config.rowCacheRows }));
  let records = 0;
  let writeMs = 0;
  let decodeMs = 0;
  const cpu = process.cpuUsage();
  const thread = process.threadCpuUsage();
  const started = performance.now();
  const next = parts.map(() => 0);
  for (let remaining = parts.length; remaining > 0; ) {
    remaining = 0;
    parts.forEach((part, p) => {
      const from = next[p]!;
      if (from >= part.count) return;
      const to = Math.min(part.count, from + SLICE);
      next[p] = to;
      if (to < part.count) remaining++;
      const store = stores.get(part.topic)!;
      const decodeStarted = performance.now();
      const changes: RowChange[] = [];
      for (let i = from; i < to; i++) {
        const key = part.keys.subarray(i === 0 ? 0 : part.bounds[(i - 1) * 3]!, part.bounds[i * 3]!);
        const end = part.bounds[i * 3 + 2]!;
        const value = end < 0 ? null : part.values.subarray(part.bounds[i * 3 + 1]!, end);
        const decoded = decodeRecord(store.view, key, value);
        if (!decoded.ok) throw new Error(`${part.topic}/${part.partition} record ${i}: ${decoded.code} ${decoded.reason}`);
        changes.push({ key: decoded.key, row: decoded.row, offset: String(i) });
      }
      const writeStarted = performance.now();
      store.apply(part.partition, changes, String(to));
      writeMs += performance.now() - writeStarted;
      decodeMs += writeStarted - decodeStarted;
      records += changes.length;
    });
  }
  const wallMs = performance.now() - started;
  const threadCpu = process.threadCpuUsage(thread);
  const processCpu = process.cpuUsage(cpu);
  for (const part of parts) {
    if (stores.get(part.topic)!.nextOffset(part.partition) !== String(part.count))
      throw new Error(`${part.topic}/${part.partition} did not apply every record`);
  }
  background.stop();
  await kv.close();
  rmSync(dir, { recursive: true, force: true });
  const seconds = (ms: number) => Math.round(ms) / 1000;
  return {
    name,
    records,
    writeSeconds: seconds(writeMs),
    decodeSeconds: seconds(decodeMs),
    wallSeconds: seconds(wallMs),
    mainThreadCpuSeconds: seconds((threadCpu.user + threadCpu.system) / 1000),
    processCpuSeconds: seconds((processCpu.user + processCpu.system) / 1000),
    writesPerSecond: Math.round(records / (writeMs / 1000)),
    decodeAndWritePerSecond: Math.round(records / ((writeMs + decodeMs) / 1000)),
  };
}

export interface FloorResult {
  readonly generateSeconds: number;
  readonly slice: number;
  readonly variants: FloorVariant[];
}

/** Runs this file in a child process (its own heap and RocksDB threads), with the bench's settings. */
export async function measureIngestFloor(workDir: string, timeoutSeconds: number): Promise<FloorResult> {
  const child = spawnTracked(process.execPath, ['--max-old-space-size=4096', import.meta.filename, workDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutSeconds * 1000);
  const code = await exited(child).finally(() => clearTimeout(timer));
  if (code !== 0) throw new Error(`ingest-floor.ts exited with ${code}: ${stderr.slice(-2000)}`);
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as FloorResult;
}

async function main(): Promise<void> {
  const work = process.argv[2];
  if (!work) throw new Error('usage: node test/bench/ingest-floor.ts <work dir>');
  const generated = performance.now();
  const parts = generate();
  const generateSeconds = Math.round(performance.now() - generated) / 1000;
  const declarations = await loadViewDeclarations(path.join(REPO_ROOT, 'views'));
  const variants: FloorVariant[] = [];
  variants.push(await fill('indexed', parts, declarations, path.join(work, 'floor-indexed')));
  variants.push(await fill('rows', parts, rowsOnly(declarations), path.join(work, 'floor-rows')));
  const result: FloorResult = { generateSeconds, slice: SLICE, variants };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (import.meta.main) await main();

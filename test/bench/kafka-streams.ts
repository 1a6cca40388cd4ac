/**
 * Kafka Streams ingest baseline: deploy/kafka-streams/src/KTableBench.java materializes the same
 * three topics the gateway ingests into one KTable each (RocksDB stores, String keys, raw byte
 * values, `topology.optimization=all` so the source topic is the changelog), with a fresh
 * application.id and state dir per run, and exits once every partition has been processed up to
 * the end offsets the pre-fill left. Timed like the gateway: from spawning `java` until the
 * program reports it has caught up; CPU is utime + stime of the JVM from /proc/<pid>/stat at that
 * moment, the same reading as the gateway's.
 *
 * Variants (threads, processing guarantee) take turns round by round, so a burst of other work on
 * the machine hits each alike; each figure is the median of BENCH_ROUNDS rounds.
 * `deploy/kafka-streams/build.sh` fetches the jars and compiles the program on first use
 * (`deploy/gw setup` runs it too).
 */
import { execFile } from 'node:child_process';
import { createWriteStream, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { exited, spawnTracked, terminate } from './cleanup.ts';
import { median } from './http-load.ts';
import { totalRecords, type EndOffsets } from './ingest.ts';
import { cpuMs, logTail, memoryOf } from './servers.ts';
import { REPO_ROOT } from './settings.ts';

const run = promisify(execFile);
const HOME = path.join(REPO_ROOT, 'deploy/kafka-streams');

/** Heap cap as for the broker; RocksDB's memtables and block cache live outside the heap. */
export const KAFKA_STREAMS_JVM_FLAGS = ['-Xms256m', '-Xmx1g', '-XX:+UseG1GC', '-XX:+ExitOnOutOfMemoryError', '-Djava.awt.headless=true'] as const;

export type Guarantee = 'at_least_once' | 'exactly_once_v2';

export interface KafkaStreamsVariant {
  readonly threads: number;
  readonly guarantee: Guarantee;
}

/** One run of the program. */
export interface KafkaStreamsRun {
  /** Records the topology processed; restored: records restored into the stores first (0 expected). */
  readonly records: number;
  readonly restored: number;
  /** Spawn of `java` until it reported caught up (the figure of merit, as for the gateway). */
  readonly ms: number;
  /** JVM start until KafkaStreams.start() and until the first record, as the JVM measured them. */
  readonly jvmStartMs: number;
  readonly firstRecordMs: number;
  /** utime + stime of the JVM from /proc when it reported caught up, all threads. */
  readonly cpuSeconds: number;
  readonly rssBytes: number;
}

export interface KafkaStreamsFigures extends KafkaStreamsVariant {
  readonly records: number;
  /** Medians over the rounds. */
  readonly ms: number;
  readonly recordsPerSecond: number;
  readonly cpuSeconds: number;
  readonly rssBytes: number;
  readonly runs: KafkaStreamsRun[];
}

export interface KafkaStreamsResult {
  readonly kafkaStreamsVersion: string;
  readonly rocksdbVersion: string;
  readonly jvmFlags: readonly string[];
  readonly variants: KafkaStreamsFigures[];
}

/** Fetches the jars and compiles the program unless both are up to date. */
export async function buildKafkaStreams(): Promise<void> {
  await run('bash', [path.join(HOME, 'build.sh')], { timeout: 600_000 });
}

interface Reported {
  readonly records: number;
  readonly restored: number;
  readonly startMs: number;
  readonly firstRecordMs: number;
  readonly kafkaStreams: string;
  readonly rocksdb: string;
}

async function runOnce(
  options: { brokers: string; ends: EndOffsets; workDir: string; timeoutSeconds: number },
  variant: KafkaStreamsVariant,
  id: string,
): Promise<{ run: KafkaStreamsRun; reported: Reported }> {
  const stateDir = path.join(options.workDir, `${id}-state`);
  const logFile = path.join(options.workDir, `${id}.log`);
  mkdirSync(stateDir, { recursive: true });
  const log = createWriteStream(logFile);
  await new Promise((resolve) => log.once('open', resolve));
  const ends: string[] = [];
  for (const [topic, partitions] of options.ends) {
    for (const [partition, end] of partitions) ends.push('--end', `${topic}:${partition}=${end}`);
  }
  const args = [
    ...KAFKA_STREAMS_JVM_FLAGS,
    `-Dlog4j.configuration=file:${path.join(HOME, 'log4j.properties')}`,
    '-cp',
    `${path.join(HOME, 'lib')}/*:${path.join(HOME, 'classes')}`,
    'KTableBench',
    ...['--brokers', options.brokers, '--app-id', id, '--state-dir', stateDir],
    ...['--threads', String(variant.threads), '--guarantee', variant.guarantee],
    ...ends,
  ];
  const spawnedAt = performance.now();
  const child = spawnTracked('java', args, { cwd: HOME, stdio: ['ignore', 'pipe', log] });
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let buffered = '';
      const timer = setTimeout(
        () => reject(new Error(`Kafka Streams did not catch up within ${options.timeoutSeconds} s:\n${logTail(logFile)}`)),
        options.timeoutSeconds * 1000,
      );
      child.stdout!.setEncoding('utf8').on('data', (text: string) => {
        buffered += text;
        const match = /^\{.*\}$/m.exec(buffered);
        if (match) {
          clearTimeout(timer);
          resolve(match[0]);
        }
      });
      exited(child).then((code) => {
        clearTimeout(timer);
        reject(new Error(`Kafka Streams exited (${code}) before catching up:\n${logTail(logFile)}`));
      }, reject);
    });
    const ms = performance.now() - spawnedAt;
    const cpuSeconds = cpuMs(child.pid!) / 1000;
    const rssBytes = memoryOf(child.pid!).rss;
    const reported = JSON.parse(line) as Reported;
    // It closes the streams (leaving the group) and exits by itself; a SIGTERM would race that.
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited(child).finally(() => clearTimeout(timer));
    return {
      run: {
        records: reported.records,
        restored: reported.restored,
        ms,
        jvmStartMs: reported.startMs,
        firstRecordMs: reported.firstRecordMs,
        cpuSeconds,
        rssBytes,
      },
      reported,
    };
  } finally {
    await terminate(child, 'SIGKILL', 0);
    rmSync(stateDir, { recursive: true, force: true });
  }
}

/**
 * Runs every variant `rounds` times, variants taking turns, and checks each run processed every
 * record of the topics.
 */
export async function kafkaStreamsIngest(options: {
  brokers: string;
  ends: EndOffsets;
  workDir: string;
  timeoutSeconds: number;
  rounds: number;
  variants: readonly KafkaStreamsVariant[];
}): Promise<KafkaStreamsResult> {
  await buildKafkaStreams();
  // Reads the jars once so the first round does not pay for a cold disk cache (kcat and the
  // gateway's modules are warm by then); class loading and JIT stay in every round, as at any start.
  for (const jar of readdirSync(path.join(HOME, 'lib'))) readFileSync(path.join(HOME, 'lib', jar));
  const expected = totalRecords(options.ends);
  const runs = options.variants.map((): KafkaStreamsRun[] => []);
  let versions = { kafkaStreams: 'unknown', rocksdb: 'unknown' };
  for (let round = 0; round < options.rounds; round++) {
    for (const [index, variant] of options.variants.entries()) {
      const id = `ks-bench-${process.pid}-${Date.now()}-${variant.threads}t-${variant.guarantee}-${round}`;
      const { run: one, reported } = await runOnce(options, variant, id);
      if (one.records !== expected) throw new Error(`Kafka Streams (${id}) processed ${one.records} records, the topics hold ${expected}`);
      versions = { kafkaStreams: reported.kafkaStreams, rocksdb: reported.rocksdb };
      runs[index]!.push(one);
    }
  }
  return {
    kafkaStreamsVersion: versions.kafkaStreams,
    rocksdbVersion: versions.rocksdb,
    jvmFlags: KAFKA_STREAMS_JVM_FLAGS,
    variants: options.variants.map((variant, index) => {
      const mine = runs[index]!;
      const ms = median(mine.map((one) => one.ms));
      return {
        ...variant,
        records: expected,
        ms,
        recordsPerSecond: expected / (ms / 1000),
        cpuSeconds: median(mine.map((one) => one.cpuSeconds)),
        rssBytes: median(mine.map((one) => one.rssBytes)),
        runs: mine,
      };
    }),
  };
}

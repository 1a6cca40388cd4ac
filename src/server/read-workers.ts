/**
 * Read workers: worker threads that run fast-path queries over this instance's store, so that
 * reads use more than the one core the main thread's event loop has (READ_WORKERS). Each worker
 * (src/read-worker.ts) attaches to the store the main thread opened; the main thread keeps HTTP,
 * authentication, rate limits, yoga's parse, validation and limits, the response cache, ingest
 * and every peer read. What a worker gets is a query text yoga already compiled, its variables,
 * the consistency token and the caller's claims; what it gives back is the answer's body and the
 * offsets it read, or "declined" (the main thread then runs the query itself).
 *
 * Shared memory, written by the main thread only:
 * - the store's write sequence (`KeyValueStore.writes`), which lets a worker know that its reads
 *   saw one state of the store;
 * - one flag per topic partition: 1 while this instance serves it from its own store (assigned
 *   or replicated, caught up, not stalled, its views at the same offset). The flags are
 *   refreshed every `refreshMs` and at once on `refresh()`.
 *
 * The workers, and the flags' refresh, start with the first task offered. A task goes to the
 * worker with the fewest tasks in flight while it has fewer than `maxInFlight`; otherwise the
 * caller runs it on the main thread, which keeps serving too. A worker that exits or fails is
 * replaced (after a pause that grows with each failure); its tasks in flight are declined, so
 * their requests are answered by the main thread.
 *
 * Hand-written: worker pools on npm (piscina, workerpool) queue tasks for any free worker, but
 * these workers each hold a store attachment, compiled queries and caches, must be closed before
 * the store, and a task must be declinable so that the main thread answers it instead.
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { PartitionerName } from '../cluster/partitioner.ts';
import type { Logger } from '../log.ts';
import type { KeyValueStore, WriteNote } from '../store/rocks.ts';
import type { ViewModel } from '../views/model.ts';

export interface ReadWorkerData {
  readonly viewsDir: string;
  readonly topicPrefix: string;
  readonly handle: bigint;
  readonly writes: Int32Array;
  readonly served: Int32Array;
  /** The first flag of each topic in `served`; a partition's flag is at base + partition. */
  readonly servedBase: Readonly<Record<string, number>>;
  readonly partitionCounts: Readonly<Record<string, number>>;
  readonly partitioner: PartitionerName;
  readonly rowCacheRows: number;
  readonly defaultPageSize: number;
  readonly maxPageSize: number;
  /**
   * The notes of the main thread's writes, one message per write: `[sequence, note]` (see
   * `WriteNote`; null when anything may have changed). Posted while the write is under way, so a
   * worker that sees a write's sequence finds its note here (`receiveMessageOnPort`).
   */
  readonly notes: MessagePort;
  /** The write sequence when `notes` opened: every later write posts a note to it. */
  readonly notesFrom: number;
}

/** One message on `ReadWorkerData.notes`. */
export type WriteNoteMessage = readonly [sequence: number, note: WriteNote | null];

export interface ReadWorkerTask {
  readonly id: number;
  readonly query: string;
  readonly variables: Record<string, unknown> | undefined;
  readonly operationName: string | undefined;
  readonly token: string | undefined;
  readonly claims: Readonly<Record<string, unknown>> | undefined;
  /** Epoch ms (QUERY_TIMEOUT_MS), if any. */
  readonly deadline: number | undefined;
}

export type ReadWorkerReply =
  | { readonly id: number; readonly text: string; readonly freshness: Record<string, Record<string, string>>; readonly seconds: number }
  | { readonly id: number; readonly declined: string };

export type ReadWorkerAnswer = Extract<ReadWorkerReply, { text: string }>;

export interface ReadWorkers {
  /** Workers running now. */
  readonly size: number;
  /**
   * Hands a task to a worker: its answer, or undefined when it declined. Returns undefined at
   * once when no worker is ready or every one is busy (run the task here).
   */
  offer(task: Omit<ReadWorkerTask, 'id'>): Promise<ReadWorkerAnswer | undefined> | undefined;
  /** Publishes the partitions' serving flags now (after a rebalance). */
  refresh(): void;
  /** Stops the workers; resolves once they have exited (before the store may close). */
  close(): Promise<void>;
}

export interface ReadWorkersOptions {
  readonly count: number;
  readonly kv: Pick<KeyValueStore, 'handle' | 'writes' | 'onWrite'>;
  readonly views: readonly ViewModel[];
  readonly viewsDir: string;
  readonly topicPrefix: string;
  readonly partitionCounts: ReadonlyMap<string, number>;
  readonly partitioner: PartitionerName;
  readonly rowCacheRows: number;
  readonly defaultPageSize: number;
  readonly maxPageSize: number;
  /** Whether this instance serves a topic partition from its own store right now. */
  readonly served: (topic: string, partition: number) => boolean;
  readonly logger: Logger;
  /** Counts each task: answered by a worker, declined by it, or not offered (all busy). */
  readonly counted?: (outcome: 'answered' | 'declined' | 'busy') => void;
  readonly refreshMs?: number;
  readonly maxInFlight?: number;
  /** The worker script (default ../read-worker.ts; tests give a fake). */
  readonly script?: URL;
  /** First pause before a worker that exited is started again, ms (default 500; doubles per failure up to 30 s). */
  readonly restartPauseMs?: number;
  /** V8 heap bounds per worker, MB. */
  readonly maxOldGenerationMb?: number;
  readonly maxYoungGenerationMb?: number;
}

/**
 * Keys and filter values in a write's note at most; a larger write (a slice of a catch-up) is
 * told as "anything changed", which costs the main thread no copy and drops the worker's caches.
 */
const NOTE_MAX_ENTRIES = 2_048;

interface Slot {
  worker: Worker | undefined;
  /** The main thread's end of the worker's channel of write notes. */
  notes: MessagePort | undefined;
  ready: boolean;
  failures: number;
  readonly pending: Map<number, (answer: ReadWorkerAnswer | undefined) => void>;
}

export function createReadWorkers(options: ReadWorkersOptions): ReadWorkers {
  const { logger } = options;
  const maxInFlight = options.maxInFlight ?? 32;
  // One flag per partition of each topic, in a fixed order.
  const servedBase: Record<string, number> = {};
  const topics: Array<{ topic: string; partitions: number }> = [];
  let flags = 0;
  for (const view of options.views) {
    const partitions = options.partitionCounts.get(view.id) ?? 1;
    if (view.topic in servedBase) continue;
    servedBase[view.topic] = flags;
    topics.push({ topic: view.topic, partitions });
    flags += partitions;
  }
  const served = new Int32Array(new SharedArrayBuffer(Math.max(1, flags) * 4));
  const publish = (): void => {
    for (const { topic, partitions } of topics) {
      for (let partition = 0; partition < partitions; partition++) {
        Atomics.store(served, servedBase[topic]! + partition, options.served(topic, partition) ? 1 : 0);
      }
    }
  };
  let timer: NodeJS.Timeout | undefined;

  const data: Omit<ReadWorkerData, 'notes' | 'notesFrom'> = {
    viewsDir: options.viewsDir,
    topicPrefix: options.topicPrefix,
    handle: options.kv.handle,
    writes: options.kv.writes,
    served,
    servedBase,
    partitionCounts: Object.fromEntries(options.partitionCounts),
    partitioner: options.partitioner,
    rowCacheRows: options.rowCacheRows,
    defaultPageSize: options.defaultPageSize,
    maxPageSize: options.maxPageSize,
  };
  let closed = false;
  let nextId = 0;
  const slots: Slot[] = Array.from({ length: options.count }, () => ({
    worker: undefined,
    notes: undefined,
    ready: false,
    failures: 0,
    pending: new Map(),
  }));
  /** Posts each write's note to every worker (set when the workers start). */
  const tell = (sequence: number, note: WriteNote | undefined): void => {
    const message: WriteNoteMessage = [sequence, note && note.keys.length + note.values.length <= NOTE_MAX_ENTRIES ? note : null];
    for (const slot of slots) slot.notes?.postMessage(message);
  };

  const spawn = (slot: Slot, index: number): void => {
    if (closed) return;
    const channel = new MessageChannel();
    slot.notes = channel.port1;
    const workerData: ReadWorkerData = { ...data, notes: channel.port2, notesFrom: Atomics.load(options.kv.writes, 0) };
    const worker = new Worker(options.script ?? new URL('../read-worker.ts', import.meta.url), {
      workerData,
      transferList: [channel.port2],
      resourceLimits: { maxOldGenerationSizeMb: options.maxOldGenerationMb ?? 256, maxYoungGenerationSizeMb: options.maxYoungGenerationMb ?? 32 },
    });
    slot.worker = worker;
    slot.ready = false;
    worker.on('message', (message: ReadWorkerReply | { ready: true } | { failed: string }) => {
      if ('ready' in message) {
        slot.ready = true;
        slot.failures = 0;
        return;
      }
      if ('failed' in message) {
        logger.error('a read worker could not start', { worker: index, error: message.failed });
        void worker.terminate();
        return;
      }
      const settle = slot.pending.get(message.id);
      if (!settle) return;
      slot.pending.delete(message.id);
      if ('text' in message) {
        options.counted?.('answered');
        settle(message);
      } else {
        options.counted?.('declined');
        logger.debug('a read worker handed a query back', { worker: index, reason: message.declined });
        settle(undefined);
      }
    });
    worker.on('error', (error) => logger.warn('a read worker failed', { worker: index, error }));
    worker.on('exit', (code) => {
      slot.worker = undefined;
      slot.ready = false;
      slot.notes?.close();
      slot.notes = undefined;
      for (const settle of slot.pending.values()) settle(undefined);
      slot.pending.clear();
      if (closed) return;
      slot.failures++;
      const pauseMs = Math.min(30_000, (options.restartPauseMs ?? 500) * 2 ** Math.min(slot.failures - 1, 6));
      logger.warn('a read worker exited; starting another', { worker: index, code, pauseMs });
      setTimeout(() => spawn(slot, index), pauseMs).unref();
    });
  };
  // Started by the first offer: an instance that serves no query (a catch-up, an idle replica)
  // spends neither the memory of their isolates nor the CPU of their start.
  let started = false;

  return {
    get size() {
      return slots.filter((slot) => slot.ready).length;
    },

    offer(task) {
      if (!started && !closed) {
        started = true;
        options.kv.onWrite(tell);
        publish();
        timer = setInterval(publish, options.refreshMs ?? 20);
        timer.unref();
        slots.forEach(spawn);
      }
      let best: Slot | undefined;
      for (const slot of slots) {
        if (slot.ready && slot.pending.size < maxInFlight && (!best || slot.pending.size < best.pending.size)) best = slot;
      }
      if (!best) {
        if (slots.some((slot) => slot.ready)) options.counted?.('busy');
        return undefined;
      }
      const slot = best;
      const id = nextId++;
      return new Promise((resolve) => {
        slot.pending.set(id, resolve);
        slot.worker!.postMessage({ ...task, id } satisfies ReadWorkerTask);
      });
    },

    refresh() {
      if (started) publish();
    },

    async close() {
      closed = true;
      clearInterval(timer);
      if (started) options.kv.onWrite(undefined);
      for (const slot of slots) slot.notes?.close();
      await Promise.all(slots.map((slot) => slot.worker?.terminate()));
    },
  };
}

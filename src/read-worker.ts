/**
 * Composition root of a read worker thread (src/server/read-workers.ts starts them): it attaches
 * to the main thread's open RocksDB, opens the views' stores over it read-only, and runs the
 * queries the main thread's fast path hands it with the same schema, compiled with graphql-jit.
 *
 * A worker answers only what it can answer exactly as the main thread would, and declines the
 * rest, which the main thread then runs itself:
 * - a read of a partition that is not served from this instance's store right now (a peer's,
 *   restoring, stalled, or whose views disagree: the flags the main thread publishes);
 * - a consistency token this store has not reached yet (the main thread waits for it);
 * - an answer with an error (the main thread answers those, through yoga where it must);
 * - a read during which the store was written, three times in a row (see below), or a write of
 *   the main thread still under way after 50 ms (a range delete: a partition leaving).
 *
 * One state per answer: the main thread is the only writer. Each write advances a shared
 * sequence to an odd value before and to an even value after (src/store/rocks.ts). The worker
 * runs a query between two reads of that sequence, starting once no write is under way; when
 * they differ, what it read may mix two states and the query runs again. Tasks run one at a
 * time, so a run spans its own reads only. Before each run its caches (rows, value lists,
 * partition offsets and counters, parked readers) drop what every write up to the sequence it
 * read changed: each write posts a note of its keys, filter values and partition before its
 * sequence becomes even, and the worker reads the notes synchronously. So they never hold a
 * state older than the one it reads, and keep what the writes did not touch.
 *
 * The texts it runs were parsed, validated and limited by yoga on the main thread first (only
 * texts yoga compiled are handed over); the worker parses and compiles each once again for its
 * own isolate, and keeps a bounded number of them.
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { parse, type ExecutionResult } from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import type { Ownership } from './cluster/ownership.ts';
import { PARTITIONERS } from './cluster/partitioner.ts';
import { createContext, freshnessExtensions } from './graphql/context.ts';
import { buildSchema } from './graphql/schema.ts';
import { Lru } from './lru.ts';
import type { PeerClient } from './peer/client.ts';
import { createLocalReads } from './query/local-reads.ts';
import { decodeToken } from './routing/consistency.ts';
import { createRoutedReader } from './routing/reader.ts';
import type { ReadWorkerData, ReadWorkerReply, ReadWorkerTask, WriteNoteMessage } from './server/read-workers.ts';
import { attachKeyValueStore } from './store/rocks.ts';
import { openViewStore, type ViewStore } from './store/view-store.ts';
import { compileViews, loadViewDeclarations } from './views/model.ts';

/** Thrown inside a read the worker must not answer; the main thread runs the query instead. */
class Declined extends Error {}

/** Runs of a query while the store changes under it before the worker hands it back. */
const ATTEMPTS = 3;
/** How long a run waits for a write under way to end before the worker hands the query back, ms. */
const WRITE_WAIT_MS = 50;
/** How long answers of tasks that arrived together are held for the others at most, ms. */
const HOLD_MS = 10;
/** Compiled texts kept per worker. */
const COMPILED_TEXTS = 2_000;
/** How often an idle worker reads the write notes waiting for it, so that they do not pile up. */
const NOTES_DRAIN_MS = 250;

const data = workerData as ReadWorkerData;
const port = parentPort!;

async function start(): Promise<void> {
  const views = compileViews(await loadViewDeclarations(data.viewsDir), data.topicPrefix);
  const kv = attachKeyValueStore(data.handle, data.writes);
  const stores = new Map<string, ViewStore>();
  for (const view of views) stores.set(view.id, await openViewStore(kv, view, { rowCache: data.rowCacheRows }));
  const partitionCounts = new Map(Object.entries(data.partitionCounts));
  const served = data.served;
  const isServed = (topic: string, partition: number): boolean => {
    const base = data.servedBase[topic];
    return base !== undefined && Atomics.load(served, base + partition) === 1;
  };
  const decline = (why: string): never => {
    throw new Declined(why);
  };
  const ownership: Ownership = {
    route(view, partitions) {
      for (const partition of partitions) if (!isServed(view.topic, partition)) decline(`${view.topic}/${partition} is not served here`);
      return { local: [...partitions], restoring: [], remote: new Map(), unknown: [] };
    },
    refresh: async () => {},
    snapshot: () => ({}),
    copyHolders: () => [],
  };
  const peers: PeerClient = {
    call: () => decline('a peer read'),
    calls: new Map(),
    close: async () => {},
  };
  const reader = createRoutedReader({
    views,
    local: createLocalReads(stores),
    partitionCounts,
    partitioner: PARTITIONERS[data.partitioner],
    ownership,
    peers,
    waiter: {
      async wait(viewId, required) {
        const store = stores.get(viewId);
        if (!required || !store) return;
        for (const [partition, offset] of Object.entries(required)) {
          if (BigInt(store.nextOffset(Number(partition)) ?? '0') < BigInt(offset)) decline('a consistency token ahead of the store');
        }
      },
    },
    consistencyWaitMs: 0,
    rebalanceWaitMs: 0,
    caughtUp: isServed,
    selfUrl: () => '',
  });
  const schema = buildSchema(views, { defaultPageSize: data.defaultPageSize, maxPageSize: data.maxPageSize });
  const compiled = new Lru<string, CompiledQuery | false>(COMPILED_TEXTS);
  const compiledFor = (task: ReadWorkerTask): CompiledQuery | undefined => {
    const key = `${task.operationName ?? ''}\u0000${task.query}`;
    let entry = compiled.get(key);
    if (entry === undefined) {
      const result = compileQuery(schema, parse(task.query), task.operationName);
      entry = isCompiledQuery(result) ? result : false;
      compiled.set(key, entry);
    }
    return entry || undefined;
  };

  /**
   * The caches follow the main thread's writes by their notes: each drops what its write changed
   * (`ViewStore.forgetWritten`). `through` is the sequence of the last write accounted for; a
   * note missing or without content drops every cache, which is always safe.
   */
  let through = data.notesFrom;
  const forgetAll = (): void => {
    for (const store of stores.values()) store.forgetCached();
  };
  /** Accounts for every write up to `sequence` (even: each of those posted its note first). */
  const catchUp = (sequence: number): void => {
    while (through < sequence) {
      const received = receiveMessageOnPort(data.notes) as { message: WriteNoteMessage } | undefined;
      if (!received) {
        forgetAll();
        through = sequence;
        return;
      }
      const [written, note] = received.message;
      if (written <= through) continue;
      const store = note && written === through + 2 ? stores.get(note.view) : undefined;
      if (store) store.forgetWritten(note!);
      else forgetAll();
      through = written;
    }
  };
  setInterval(() => {
    const sequence = Atomics.load(data.writes, 0);
    catchUp(sequence - (sequence % 2));
  }, NOTES_DRAIN_MS).unref();
  const run = async (task: ReadWorkerTask): Promise<ReadWorkerReply> => {
    const query = compiledFor(task);
    if (!query) return { id: task.id, declined: 'not compiled' };
    const required = task.token === undefined ? undefined : decodeToken(task.token);
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      // A write under way (an odd sequence) ends within a slice of ingest; waiting for it is not
      // a try. A range delete (a partition leaving) can take longer: then the main thread answers.
      let before = Atomics.load(data.writes, 0);
      const waitUntil = performance.now() + WRITE_WAIT_MS;
      while (before % 2 === 1 && performance.now() < waitUntil) {
        await new Promise((resolve) => setImmediate(resolve));
        before = Atomics.load(data.writes, 0);
      }
      if (before % 2 === 1) return { id: task.id, declined: 'a write of the main thread under way' };
      catchUp(before);
      const context = createContext(reader, required, undefined, task.claims);
      if (task.deadline !== undefined) context.setDeadline(task.deadline);
      const started = performance.now();
      const result = (await query.query(undefined, context, task.variables ?? {})) as ExecutionResult;
      const seconds = (performance.now() - started) / 1000;
      if (Atomics.load(data.writes, 0) !== before) continue;
      if (result.errors && result.errors.length > 0) {
        const declined = result.errors.find((error) => error.originalError instanceof Declined);
        return { id: task.id, declined: declined ? declined.message : 'an answer with errors' };
      }
      if (result.data === undefined || result.data === null) return { id: task.id, declined: 'no data' };
      const text = JSON.stringify({ data: result.data, extensions: freshnessExtensions(context) });
      return { id: task.id, text, freshness: context.freshness, seconds };
    }
    return { id: task.id, declined: 'the store changed during each run' };
  };

  // The tasks that arrive together run one at a time, so a run's reads span its own work only
  // (interleaved at their awaits, a write of the main thread fell inside most of them), and their
  // answers go back together, as interleaved runs' did: the main thread takes them in one wake.
  const queue: ReadWorkerTask[] = [];
  let draining = false;
  const drain = async (): Promise<void> => {
    draining = true;
    let replies: ReadWorkerReply[] = [];
    let since = performance.now();
    for (let task = queue.shift(); task; task = queue.shift()) {
      try {
        replies.push(await run(task));
      } catch (error) {
        replies.push({ id: task.id, declined: error instanceof Error ? error.message : String(error) });
      }
      // Tasks that arrive while earlier ones wait for a write join the queue: answers held this
      // long go back at once.
      if (performance.now() - since >= HOLD_MS) {
        for (const reply of replies) port.postMessage(reply);
        replies = [];
        since = performance.now();
      }
    }
    draining = false;
    for (const reply of replies) port.postMessage(reply);
  };
  port.on('message', (task: ReadWorkerTask) => {
    queue.push(task);
    if (!draining) void drain();
  });
  port.postMessage({ ready: true });
}

start().catch((error: unknown) => {
  port.postMessage({ failed: error instanceof Error ? (error.stack ?? error.message) : String(error) });
});

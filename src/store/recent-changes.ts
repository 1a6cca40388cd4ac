/**
 * The owner's side of cross-instance subscriptions: the last changes applied per partition,
 * with rows before and after, so another instance's subscribers get exactly the events a local
 * subscriber would. Older history comes from the store's change log (latest value per key).
 *
 *   changesSince(view, partition, from) = every applied change with offset >= from, in order,
 *     when `from` is within the buffer; otherwise the change log's entries from `from`
 *     (before = undefined: the subscriber decides by the row as it is now). A `from` below the
 *     point where the log's tombstones were trimmed fails with GW_RESUME_TOO_FAR.
 */
import { GatewayError } from '../errors.ts';
import type { ChangeEvents } from './changes.ts';
import type { AppliedChange, ViewStore } from './view-store.ts';

export interface RecentChanges {
  /**
   * Changes of one partition from offset `from`, at most `limit`, and the next offset they
   * cover up to (everything below it, from `from`, is included).
   */
  since(viewId: string, partition: number, from: string, limit: number): { changes: AppliedChange[]; next: string; compacted: boolean };
  /** Resolves when a batch of this partition is applied, or after `ms`. */
  waitForChange(viewId: string, partition: number, ms: number): Promise<void>;
}

interface Buffer {
  /** Offset from which every change is in `entries` (until eviction moves it). */
  coveredFrom: bigint;
  next: bigint;
  entries: AppliedChange[];
}

export function createRecentChanges(stores: ReadonlyMap<string, ViewStore>, events: ChangeEvents, capacity: number): RecentChanges {
  const buffers = new Map<string, Buffer>();
  const waiters = new Map<string, Set<() => void>>();
  const id = (viewId: string, partition: number) => `${viewId}/${partition}`;

  events.on('applied', (event) => {
    const key = id(event.view.id, event.partition);
    let buffer = buffers.get(key);
    const first = event.changes[0];
    if (!buffer) {
      // The buffer starts with this batch: changes before it are only in the change log.
      const start = first ? BigInt(first.offset) : BigInt(event.nextOffset);
      buffer = { coveredFrom: start, next: start, entries: [] };
      buffers.set(key, buffer);
    }
    buffer.entries.push(...event.changes);
    buffer.next = BigInt(event.nextOffset);
    if (buffer.entries.length > capacity) {
      const dropped = buffer.entries.splice(0, buffer.entries.length - capacity);
      buffer.coveredFrom = BigInt(dropped[dropped.length - 1]!.offset) + 1n;
    }
    const waiting = waiters.get(key);
    if (waiting) {
      waiters.delete(key);
      for (const wake of waiting) wake();
    }
  });

  return {
    since(viewId, partition, from, limit) {
      const store = stores.get(viewId)!;
      const start = BigInt(from);
      const buffer = buffers.get(id(viewId, partition));
      if (buffer && start >= buffer.coveredFrom) {
        const changes = buffer.entries.filter((change) => BigInt(change.offset) >= start).slice(0, limit);
        const next = changes.length === limit ? BigInt(changes[changes.length - 1]!.offset) + 1n : buffer.next;
        return { changes, next: String(next > start ? next : start), compacted: false };
      }
      const trimmed = store.tombstonesTrimmedBelow(partition);
      if (trimmed !== undefined && start < BigInt(trimmed)) {
        // Deletions before `trimmed` are no longer in the log: a catch-up could miss them.
        throw new GatewayError(
          'GW_RESUME_TOO_FAR',
          `the resume token is older than the change log's deletions (kept for TOMBSTONE_RETENTION_MS, from offset ${trimmed} of partition ${partition}); subscribe again without it`,
          { details: { partition, trimmedBelow: trimmed } },
        );
      }
      const log = store.changesSince(partition, from, limit);
      const rows = store.getRows(log.map((entry) => ({ partition, key: entry.key })));
      const changes = log.map((entry, i) => ({
        key: entry.key,
        offset: entry.offset,
        before: undefined,
        after: entry.deleted ? undefined : rows[i],
      }));
      const applied = BigInt(store.nextOffset(partition) ?? '0');
      const next = log.length === limit ? BigInt(log[log.length - 1]!.offset) + 1n : applied;
      return { changes, next: String(next > start ? next : start), compacted: true };
    },

    waitForChange(viewId, partition, ms) {
      return new Promise((resolve) => {
        const key = id(viewId, partition);
        const set = waiters.get(key) ?? new Set<() => void>();
        waiters.set(key, set);
        const wake = () => {
          clearTimeout(timer);
          set.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, ms);
        set.add(wake);
      });
    },
  };
}

/**
 * Subscriptions: the current state first, then every change, with no gap and no duplicate
 * between the two, per key in offset order, each event carrying a resume token.
 *
 * No gap, no duplicate: a snapshot (or a resume's catch-up from the store's change log) is read
 * in one synchronous turn together with the partitions' next offsets, and the subscription is
 * registered in that same turn. Batches are applied synchronously on this thread too, so every
 * later batch starts exactly at the recorded offset and is delivered live.
 *
 * Cost: an idle subscription is an entry in a map (entity subscriptions by key; list
 * subscriptions grouped by filter, so one filter is evaluated once per change however many
 * clients share it). Events go into a bounded per-subscription stream: a slow client
 * overflows its own stream and is cut off with a token, and never delays ingest or others.
 */
import type { EventEmitter } from 'node:events';
import { GatewayError } from '../errors.ts';
import type { AppliedEvent } from '../ingest/ingestor.ts';
import { matchesFilter, readPage, type Filter, type PageRequest } from '../query/page.ts';
import { encodeToken, type Offsets } from '../routing/consistency.ts';
import { partitionForKey } from '../routing/partitioner.ts';
import type { Row, ViewStore } from '../store/view-store.ts';
import type { ViewModel } from '../views/model.ts';
import { createEventStream, type EventStream } from './stream.ts';

export type ChangeKind = 'SNAPSHOT' | 'CAUGHT_UP' | 'UPSERT' | 'REMOVE' | 'OVERFLOW';

export interface ChangeEvent {
  readonly kind: ChangeKind;
  /** The record key (null for CAUGHT_UP and OVERFLOW). */
  readonly key: string | null;
  readonly row: Row | null;
  /** Resume token: everything up to and including this event has been delivered. */
  readonly token: string;
}

export interface HubOptions {
  readonly stores: ReadonlyMap<string, ViewStore>;
  readonly events: EventEmitter<{ applied: [AppliedEvent] }>;
  readonly partitionCounts: ReadonlyMap<string, number>;
  /** Whether this instance serves (and so sees the changes of) a partition. */
  readonly servesLocally: (view: ViewModel, partition: number) => boolean;
  readonly maxSubscriptions: number;
  /** Events a subscription may have queued before it is cut off. */
  readonly bufferSize: number;
}

export interface Hub {
  entity(viewId: string, key: string, after: Offsets | undefined): AsyncIterableIterator<ChangeEvent>;
  list(viewId: string, request: PageRequest, after: Offsets | undefined): AsyncIterableIterator<ChangeEvent>;
  readonly size: number;
}

interface Subscription {
  readonly view: ViewModel;
  /** Next offset already covered, per partition of interest. */
  readonly cursor: Map<number, bigint>;
  readonly stream: EventStream<ChangeEvent>;
  readonly key?: string;
}

interface ListGroup {
  readonly filter: Filter;
  readonly members: Set<Subscription>;
}

/** Resume far behind the change log's reach is refused rather than flooding the client. */
const MAX_CATCH_UP_FACTOR = 1;

export function createHub(options: HubOptions): Hub {
  const byKey = new Map<string, Map<string, Set<Subscription>>>();
  const groups = new Map<string, Map<string, ListGroup>>();
  let size = 0;

  const tokenOf = (subscription: Subscription, partition?: number, next?: bigint): string => {
    const offsets: Record<string, string> = {};
    for (const [p, offset] of subscription.cursor) offsets[String(p)] = String(p === partition && next !== undefined ? next : offset);
    return encodeToken({ [subscription.view.topic]: offsets });
  };

  const storeOf = (viewId: string): ViewStore => {
    const store = options.stores.get(viewId);
    if (!store) throw new GatewayError('GW_QUERY_BAD_ARGUMENT', `unknown view ${viewId}`);
    return store;
  };

  const open = (view: ViewModel, partitions: readonly number[], unregister: () => void): Subscription => {
    const unserved = partitions.filter((partition) => !options.servesLocally(view, partition));
    if (unserved.length > 0) {
      throw new GatewayError('GW_PARTITION_UNAVAILABLE', `${view.topic} partition(s) ${unserved.join(', ')} are not served by this instance; subscribe where they are`, {
        details: { topic: view.topic, partitions: unserved },
      });
    }
    if (size >= options.maxSubscriptions) {
      throw new GatewayError('GW_SUBSCRIPTION_LIMIT', `this instance already serves ${options.maxSubscriptions} subscriptions`);
    }
    const cursor = new Map<number, bigint>();
    const subscription: Subscription = {
      view,
      cursor,
      stream: createEventStream<ChangeEvent>({
        capacity: options.bufferSize,
        tokenOf: (event) => event.token,
        overflowEvent: (token) => ({ kind: 'OVERFLOW', key: null, row: null, token: token ?? '' }),
        onClose: () => {
          size--;
          unregister();
        },
      }),
    };
    size++;
    return subscription;
  };

  /** Sets the cursor from a token (resume) or from the store (fresh), and replays a resume's gap. */
  const start = (
    subscription: Subscription,
    store: ViewStore,
    partitions: readonly number[],
    after: Offsets | undefined,
    relevant: (key: string, row: Row | undefined) => ChangeEvent['kind'] | undefined,
  ): void => {
    for (const partition of partitions) {
      const now = BigInt(store.nextOffset(partition) ?? '0');
      const from = after?.[subscription.view.topic]?.[String(partition)];
      if (after && from === undefined) {
        throw new GatewayError('GW_QUERY_BAD_TOKEN', `the resume token does not cover ${subscription.view.topic} partition ${partition}`);
      }
      if (from === undefined || BigInt(from) >= now) {
        subscription.cursor.set(partition, after && from !== undefined ? BigInt(from) : now);
        continue;
      }
      subscription.cursor.set(partition, BigInt(from));
      const log = store.changesSince(partition, from, options.bufferSize * MAX_CATCH_UP_FACTOR + 1);
      if (log.length > options.bufferSize * MAX_CATCH_UP_FACTOR) {
        throw new GatewayError('GW_RESUME_TOO_FAR', `more than ${options.bufferSize} changes since the token; subscribe again without it`, {
          details: { topic: subscription.view.topic, partition },
        });
      }
      const rows = store.getRows(log.map((entry) => ({ partition, key: entry.key })));
      log.forEach((entry, i) => {
        const row = entry.deleted ? undefined : rows[i];
        const kind = relevant(entry.key, row);
        if (kind) {
          subscription.stream.push({ kind, key: entry.key, row: kind === 'REMOVE' ? null : (row ?? null), token: tokenOf(subscription, partition, BigInt(entry.offset) + 1n) });
        }
      });
      subscription.cursor.set(partition, now);
    }
  };

  options.events.on('applied', (event) => {
    const next = BigInt(event.nextOffset);
    const deliver = (subscription: Subscription, kind: ChangeEvent['kind'], key: string, row: Row | undefined, offset: string) => {
      const covered = subscription.cursor.get(event.partition);
      if (covered === undefined || BigInt(offset) < covered) return;
      subscription.stream.push({ kind, key, row: row ?? null, token: tokenOf(subscription, event.partition, BigInt(offset) + 1n) });
    };
    const keyed = byKey.get(event.view.id);
    const listGroups = groups.get(event.view.id);
    for (const change of event.changes) {
      for (const subscription of keyed?.get(change.key) ?? []) {
        deliver(subscription, change.after ? 'UPSERT' : 'REMOVE', change.key, change.after, change.offset);
      }
      for (const group of listGroups?.values() ?? []) {
        const now = change.after !== undefined && matchesFilter(change.after, group.filter);
        const before = change.before !== undefined && matchesFilter(change.before, group.filter);
        if (!now && !before) continue;
        for (const subscription of group.members) deliver(subscription, now ? 'UPSERT' : 'REMOVE', change.key, change.after, change.offset);
      }
    }
    const advance = (subscription: Subscription) => {
      const covered = subscription.cursor.get(event.partition);
      if (covered !== undefined && covered < next) subscription.cursor.set(event.partition, next);
    };
    for (const change of event.changes) for (const subscription of keyed?.get(change.key) ?? []) advance(subscription);
    for (const group of listGroups?.values() ?? []) for (const subscription of group.members) advance(subscription);
  });

  return {
    get size() {
      return size;
    },

    entity(viewId, key, after) {
      const store = storeOf(viewId);
      const view = store.view;
      const partition = partitionForKey(key, options.partitionCounts.get(viewId) ?? 1);
      let keys = byKey.get(viewId);
      if (!keys) byKey.set(viewId, (keys = new Map()));
      const index = keys;
      const subscription = open(view, [partition], () => {
        const set = index.get(key);
        set?.delete(subscription);
        if (set?.size === 0) index.delete(key);
      });
      try {
        start(subscription, store, [partition], after, (changed, row) => (changed === key ? (row ? 'UPSERT' : 'REMOVE') : undefined));
        if (!after) {
          const row = store.getRows([{ partition, key }])[0];
          subscription.stream.push({ kind: 'SNAPSHOT', key, row: row ?? null, token: tokenOf(subscription) });
        } else {
          subscription.stream.push({ kind: 'CAUGHT_UP', key: null, row: null, token: tokenOf(subscription) });
        }
      } catch (error) {
        void subscription.stream.return!();
        throw error;
      }
      const set = index.get(key) ?? new Set<Subscription>();
      set.add(subscription);
      index.set(key, set);
      return subscription.stream;
    },

    list(viewId, request, after) {
      const store = storeOf(viewId);
      const view = store.view;
      const partitions = Array.from({ length: options.partitionCounts.get(viewId) ?? 1 }, (_, partition) => partition);
      const signature = JSON.stringify(request.filter);
      let viewGroups = groups.get(viewId);
      if (!viewGroups) groups.set(viewId, (viewGroups = new Map()));
      const byFilter = viewGroups;
      const subscription = open(view, partitions, () => {
        const group = byFilter.get(signature);
        group?.members.delete(subscription);
        if (group?.members.size === 0) byFilter.delete(signature);
      });
      try {
        start(subscription, store, partitions, after, (_key, row) => (row && matchesFilter(row, request.filter) ? 'UPSERT' : 'REMOVE'));
        if (!after) {
          const session = store.session();
          try {
            const page = readPage(store, session, partitions, request);
            for (const row of page.rows) subscription.stream.push({ kind: 'SNAPSHOT', key: row.key, row: row.row, token: tokenOf(subscription) });
          } finally {
            session.close();
          }
        }
        subscription.stream.push({ kind: 'CAUGHT_UP', key: null, row: null, token: tokenOf(subscription) });
      } catch (error) {
        void subscription.stream.return!();
        throw error;
      }
      const group = byFilter.get(signature) ?? { filter: request.filter, members: new Set<Subscription>() };
      group.members.add(subscription);
      byFilter.set(signature, group);
      return subscription.stream;
    },
  };
}

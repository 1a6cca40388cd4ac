/**
 * Subscriptions: the current state first, then every change, with no gap and no duplicate
 * between the two, per key in offset order, each event carrying a resume token. They work on
 * any instance, whoever owns the partitions.
 *
 * No gap, no duplicate: a subscription is registered before its snapshot is read, and holds the
 * changes that arrive meanwhile. The snapshot (a routed read, so it covers partitions owned
 * elsewhere too) reports per partition the offset it was read at. Held and later changes are
 * delivered only from that offset on. Changes come from this instance's ingest for partitions
 * it serves, and from a feed that long-polls the owner (peer op `changes`) for the others.
 *
 * Resume: with a token there is no snapshot. The partitions start at the token's offsets, and
 * the missed changes come first: exact ones from the owner's recent-changes buffer, or the
 * latest value per key from its change log when the token is older than that buffer.
 *
 * Cost: an idle subscription is an entry in a map (entity subscriptions by key; list
 * subscriptions grouped by filter, so one filter is evaluated once per change however many
 * clients share it). Events go into a bounded per-subscription stream: a slow client
 * overflows its own stream and is cut off with a token, and never delays ingest or others.
 */
import { GatewayError, isGatewayError } from '../errors.ts';
import type { ChangeEvents } from '../store/changes.ts';
import type { Logger } from '../log.ts';
import { matchesFilter, type Filter, type PageRequest } from '../query/page.ts';
import { encodeToken, type Offsets } from '../routing/consistency.ts';
import type { Ownership } from '../cluster/ownership.ts';
import type { PeerClient } from '../peer/client.ts';
import { partitionForKey } from '../cluster/partitioner.ts';
import type { ReadContext, ViewReader } from '../routing/reader.ts';
import type { AppliedChange, Row } from '../store/view-store.ts';
import type { ViewModel } from '../views/model.ts';
import type { RecentChanges } from '../store/recent-changes.ts';
import { createEventStream, type EventStream } from './stream.ts';

export type ChangeKind = 'SNAPSHOT' | 'CAUGHT_UP' | 'UPSERT' | 'REMOVE' | 'OVERFLOW';

export interface ChangeEvent {
  readonly kind: ChangeKind;
  /** The record key (null for CAUGHT_UP and OVERFLOW). */
  readonly key: string | null;
  readonly row: Row | null;
  /** Resume token: everything up to and including this event has been delivered. */
  readonly token: string;
  /** Set on a last event that ends the subscription with this error instead of data. */
  readonly failure?: GatewayError;
}

/** A batch of changes of one partition; `compacted` when rows before are unknown (change log). */
interface PartitionChanges {
  readonly view: ViewModel;
  readonly partition: number;
  readonly nextOffset: string;
  readonly changes: readonly AppliedChange[];
  readonly compacted: boolean;
}

export interface HubOptions {
  readonly views: readonly ViewModel[];
  readonly events: ChangeEvents;
  readonly partitionCounts: ReadonlyMap<string, number>;
  readonly reader: ViewReader;
  readonly recent: RecentChanges;
  readonly ownership: Ownership;
  readonly peers: PeerClient;
  /** Whether this instance serves (and so sees the changes of) a partition. */
  readonly servesLocally: (view: ViewModel, partition: number) => boolean;
  readonly maxSubscriptions: number;
  /** Events a subscription may have queued before it is cut off. */
  readonly bufferSize: number;
  readonly logger: Logger;
}

export interface Hub {
  entity(viewId: string, key: string, after: Offsets | undefined): Promise<AsyncIterableIterator<ChangeEvent>>;
  list(viewId: string, request: PageRequest, after: Offsets | undefined): Promise<AsyncIterableIterator<ChangeEvent>>;
  /** Call after a rebalance: subscriptions follow partitions that moved away. */
  rebalanced(): void;
  readonly size: number;
}

interface Subscription {
  readonly view: ViewModel;
  readonly partitions: readonly number[];
  /** Next offset covered per partition, once known. */
  readonly cursor: Map<number, bigint>;
  /** Changes that arrived before the cursor was known. */
  held: PartitionChanges[] | undefined;
  readonly stream: EventStream<ChangeEvent>;
  readonly decide: (change: AppliedChange, compacted: boolean) => 'UPSERT' | 'REMOVE' | undefined;
  /** Partitions whose changes come from a feed (owned elsewhere). */
  readonly feeding: Set<number>;
  stopped: boolean;
}

const FEED_WAIT_MS = 1000;
const FEED_LIMIT = 1000;

export function createHub(options: HubOptions): Hub {
  const byKey = new Map<string, Map<string, Set<Subscription>>>();
  const groups = new Map<string, Map<string, { filter: Filter; members: Set<Subscription> }>>();
  const viewsById = new Map(options.views.map((view) => [view.id, view]));
  let size = 0;
  const registry = new Set<Subscription>();

  const tokenOf = (subscription: Subscription, partition?: number, next?: bigint): string => {
    const offsets: Record<string, string> = {};
    for (const [p, offset] of subscription.cursor) offsets[String(p)] = String(p === partition && next !== undefined ? next : offset);
    return encodeToken({ [subscription.view.topic]: offsets });
  };

  /** Delivers one partition's changes from the subscription's cursor on, then advances it. */
  const deliver = (subscription: Subscription, batch: PartitionChanges): void => {
    if (subscription.held) {
      subscription.held.push(batch);
      return;
    }
    const covered = subscription.cursor.get(batch.partition);
    if (covered === undefined) return;
    for (const change of batch.changes) {
      if (BigInt(change.offset) < covered) continue;
      const kind = subscription.decide(change, batch.compacted);
      if (!kind) continue;
      const next = BigInt(change.offset) + 1n;
      subscription.stream.push({ kind, key: change.key, row: kind === 'UPSERT' ? (change.after ?? null) : null, token: tokenOf(subscription, batch.partition, next) });
    }
    if (BigInt(batch.nextOffset) > covered) subscription.cursor.set(batch.partition, BigInt(batch.nextOffset));
  };

  const dispatch = (batch: PartitionChanges, only?: Subscription): void => {
    if (only) {
      deliver(only, batch);
      return;
    }
    const keyed = byKey.get(batch.view.id);
    for (const change of batch.changes) {
      for (const subscription of keyed?.get(change.key) ?? []) if (subscription.partitions.includes(batch.partition)) deliver(subscription, { ...batch, changes: [change] });
    }
    for (const group of groups.get(batch.view.id)?.values() ?? []) {
      for (const subscription of group.members) if (subscription.partitions.includes(batch.partition)) deliver(subscription, batch);
    }
  };

  options.events.on('applied', (event) => {
    // Local ingest: only partitions this instance serves; the others arrive through feeds.
    if (!options.servesLocally(event.view, event.partition)) return;
    dispatch({ view: event.view, partition: event.partition, nextOffset: event.nextOffset, changes: event.changes, compacted: false });
  });

  const startFeed = (subscription: Subscription, partition: number, onFirst: () => void): void => {
    if (subscription.feeding.has(partition)) return;
    subscription.feeding.add(partition);
    void feed(subscription, partition, onFirst).finally(() => subscription.feeding.delete(partition));
  };

  /** Long-polls the owner of a remote partition for the subscription's changes until it stops. */
  const feed = async (subscription: Subscription, partition: number, onFirst: () => void): Promise<void> => {
    const view = subscription.view;
    let first = true;
    while (!subscription.stopped && !subscription.stream.closed) {
      const from = subscription.cursor.get(partition) ?? 0n;
      try {
        if (options.servesLocally(view, partition)) {
          // The partition moved here: catch up from this instance's own buffer, then ingest delivers.
          const local = options.recent.since(view.id, partition, String(from), FEED_LIMIT);
          dispatch({ view, partition, nextOffset: local.next, changes: local.changes, compacted: local.compacted }, subscription);
          if (local.changes.length < FEED_LIMIT) break;
          continue;
        }
        const route = options.ownership.route(view, [partition]);
        const [url] = [...route.remote.keys()];
        if (!url) throw new GatewayError('GW_PARTITION_UNAVAILABLE', `${view.topic} partition ${partition} has no owner right now`);
        const answer = await options.peers.call(
          url,
          { op: 'changes', view: view.id, partitions: [partition], args: { since: { [partition]: String(from) }, waitMs: first ? 0 : FEED_WAIT_MS, limit: FEED_LIMIT } },
          FEED_WAIT_MS,
        );
        const result = (answer.result as Record<string, { changes: AppliedChange[]; next: string; compacted: boolean }>)[String(partition)];
        if (!result || !Array.isArray(result.changes)) throw new GatewayError('GW_PEER_BAD_RESPONSE', `peer ${url} sent no changes for partition ${partition}`);
        dispatch({ view, partition, nextOffset: result.next, changes: result.changes, compacted: result.compacted }, subscription);
      } catch (error) {
        if (isGatewayError(error) && error.code === 'GW_RESUME_TOO_FAR') {
          // The owner cannot deliver what was missed: end the subscription with the error.
          subscription.stream.end({ kind: 'OVERFLOW', key: null, row: null, token: '', failure: error });
          break;
        }
        if (isGatewayError(error) && error.code === 'GW_PEER_NOT_OWNER') await options.ownership.refresh();
        else options.logger.debug('subscription feed retry', { error, topic: view.topic, partition });
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      if (first) {
        first = false;
        onFirst();
      }
    }
    if (first) onFirst();
  };

  const open = async (
    view: ViewModel,
    partitions: readonly number[],
    decide: Subscription['decide'],
    register: (subscription: Subscription) => () => void,
    after: Offsets | undefined,
    snapshot: ((context: ReadContext) => Promise<ChangeEvent[]>) | undefined,
    announceSnapshotEnd: boolean,
  ): Promise<EventStream<ChangeEvent>> => {
    if (size >= options.maxSubscriptions) {
      throw new GatewayError('GW_SUBSCRIPTION_LIMIT', `this instance already serves ${options.maxSubscriptions} subscriptions`);
    }
    let unregister = () => undefined as void;
    const subscription: Subscription = {
      view,
      partitions,
      cursor: new Map(),
      held: [],
      feeding: new Set(),
      decide,
      stopped: false,
      stream: createEventStream<ChangeEvent>({
        capacity: options.bufferSize,
        tokenOf: (event) => event.token,
        overflowEvent: (token) => ({ kind: 'OVERFLOW', key: null, row: null, token: token ?? '' }),
        onClose: () => {
          size--;
          subscription.stopped = true;
          registry.delete(subscription);
          unregister();
        },
      }),
    };
    size++;
    unregister = register(subscription);
    try {
      let events: ChangeEvent[] = [];
      if (after) {
        for (const partition of partitions) {
          const from = after[view.topic]?.[String(partition)];
          if (from === undefined) throw new GatewayError('GW_QUERY_BAD_TOKEN', `the resume token does not cover ${view.topic} partition ${partition}`);
          subscription.cursor.set(partition, BigInt(from));
        }
      } else {
        const observed: Record<string, string> = {};
        events = await snapshot!({
          observe: (topic, offsets) => {
            if (topic === view.topic) Object.assign(observed, offsets);
          },
        });
        for (const partition of partitions) subscription.cursor.set(partition, BigInt(observed[String(partition)] ?? '0'));
        events = events.map((event) => ({ ...event, token: tokenOf(subscription) }));
      }
      for (const event of events) subscription.stream.push(event);
      const held = subscription.held ?? [];
      subscription.held = undefined;
      for (const batch of held) deliver(subscription, batch);
      const remote = partitions.filter((partition) => !options.servesLocally(view, partition));
      if (after) {
        // Resuming: the missed changes of local partitions come from this instance's buffer.
        let missed = 0;
        for (const partition of partitions.filter((p) => !remote.includes(p))) {
          for (;;) {
            const local = options.recent.since(view.id, partition, String(subscription.cursor.get(partition)!), FEED_LIMIT);
            missed += local.changes.length;
            if (missed > options.bufferSize) {
              throw new GatewayError('GW_RESUME_TOO_FAR', `more than ${options.bufferSize} changes since the token; subscribe again without it`, {
                details: { topic: view.topic, partition },
              });
            }
            deliver(subscription, { view, partition, nextOffset: local.next, changes: local.changes, compacted: local.compacted });
            if (local.changes.length < FEED_LIMIT) break;
          }
        }
      }
      const caughtUp = () => subscription.stream.push({ kind: 'CAUGHT_UP', key: null, row: null, token: tokenOf(subscription) });
      // A fresh list is caught up with its snapshot; a resume once every feed has polled once.
      let waiting = remote.length;
      const polled = () => {
        waiting--;
        if (after && waiting === 0) caughtUp();
      };
      if ((!after && announceSnapshotEnd) || (after && remote.length === 0)) caughtUp();
      registry.add(subscription);
      for (const partition of remote) startFeed(subscription, partition, polled);
    } catch (error) {
      void subscription.stream.return!();
      throw error;
    }
    return subscription.stream;
  };

  const viewOf = (viewId: string): ViewModel => {
    const view = viewsById.get(viewId);
    if (!view) throw new GatewayError('GW_QUERY_BAD_ARGUMENT', `unknown view ${viewId}`);
    return view;
  };

  return {
    get size() {
      return size;
    },

    rebalanced() {
      // Partitions this instance stopped serving get a feed from their new owner.
      for (const subscription of registry) {
        for (const partition of subscription.partitions) {
          if (!options.servesLocally(subscription.view, partition)) startFeed(subscription, partition, () => undefined);
        }
      }
    },

    entity(viewId, key, after) {
      const view = viewOf(viewId);
      const partition = partitionForKey(key, options.partitionCounts.get(viewId) ?? 1);
      return open(
        view,
        [partition],
        (change) => (change.key !== key ? undefined : change.after ? 'UPSERT' : 'REMOVE'),
        (subscription) => {
          let keys = byKey.get(viewId);
          if (!keys) byKey.set(viewId, (keys = new Map()));
          const set = keys.get(key) ?? new Set<Subscription>();
          set.add(subscription);
          keys.set(key, set);
          const index = keys;
          return () => {
            set.delete(subscription);
            if (set.size === 0) index.delete(key);
          };
        },
        after,
        after
          ? undefined
          : async (context) => {
              const [row] = await options.reader.lookup(viewId, [key], context);
              return [{ kind: 'SNAPSHOT', key, row: row ?? null, token: '' }];
            },
        false,
      );
    },

    list(viewId, request, after) {
      const view = viewOf(viewId);
      const partitions = Array.from({ length: options.partitionCounts.get(viewId) ?? 1 }, (_, partition) => partition);
      const signature = JSON.stringify(request.filter);
      const matches = (row: Row | undefined) => row !== undefined && matchesFilter(row, request.filter);
      return open(
        view,
        partitions,
        (change, compacted) => {
          if (matches(change.after)) return 'UPSERT';
          // From the change log the row before is unknown: the client may have had it.
          return compacted || matches(change.before) ? 'REMOVE' : undefined;
        },
        (subscription) => {
          let byFilter = groups.get(viewId);
          if (!byFilter) groups.set(viewId, (byFilter = new Map()));
          const group = byFilter.get(signature) ?? { filter: request.filter, members: new Set<Subscription>() };
          group.members.add(subscription);
          byFilter.set(signature, group);
          const index = byFilter;
          return () => {
            group.members.delete(subscription);
            if (group.members.size === 0) index.delete(signature);
          };
        },
        after,
        after
          ? undefined
          : async (context) => {
              const [page] = await options.reader.pages(viewId, [request], context);
              return page!.rows.map((row) => ({ kind: 'SNAPSHOT' as const, key: row.key, row: row.row, token: '' }));
            },
        true,
      );
    },
  };
}

/**
 * Subscriptions: the current state first, then every change, with no gap and no duplicate
 * between the two, per key in offset order, each event carrying a resume token. They work on
 * any instance, whoever owns the partitions.
 *
 * The hub composes the parts: the index finds the subscriptions a change concerns
 * (`subscription-index.ts`), the registry opens and closes them within the instance's limit
 * (`subscription-registry.ts`) from a snapshot (`snapshot.ts`) or a token (`resume.ts`).
 * Changes come from this instance's ingest for partitions it serves, and from feeds that
 * long-poll the owner for the others (`remote-feeds.ts`).
 *
 * Cost: an idle subscription is an entry in a map. Events go into a bounded per-subscription
 * stream: a slow client overflows its own stream and is cut off with a token, and never
 * delays ingest or others.
 */
import type { Ownership } from '../cluster/ownership.ts';
import type { Partitioner } from '../cluster/partitioner.ts';
import { GatewayError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { PeerClient } from '../peer/client.ts';
import { matchesFilter, type PageRequest } from '../query/page.ts';
import type { Offsets } from '../routing/consistency.ts';
import type { ViewReader } from '../routing/reader.ts';
import type { ChangeEvents } from '../store/changes.ts';
import type { RecentChanges } from '../store/recent-changes.ts';
import type { Row } from '../store/view-store.ts';
import type { ViewModel } from '../views/model.ts';
import { createRemoteFeeds } from './remote-feeds.ts';
import { entitySnapshot, listSnapshot } from './snapshot.ts';
import type { ChangeEvent } from './subscription.ts';
import { createSubscriptionIndex } from './subscription-index.ts';
import { createSubscriptionRegistry } from './subscription-registry.ts';

export type { ChangeEvent, ChangeKind } from './subscription.ts';

export interface HubOptions {
  readonly views: readonly ViewModel[];
  readonly events: ChangeEvents;
  readonly partitionCounts: ReadonlyMap<string, number>;
  /** The producers' partitioner: which partition holds a key. */
  readonly partitioner: Partitioner;
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
  /**
   * The instance is stopping: every subscription ends, after the events already queued, with
   * GW_INSTANCE_STOPPING carrying its resume token (`details.token`); new ones are refused.
   */
  close(): void;
  readonly size: number;
}

export function createHub(options: HubOptions): Hub {
  const viewsById = new Map(options.views.map((view) => [view.id, view]));
  const index = createSubscriptionIndex();
  const feeds = createRemoteFeeds(options);
  const registry = createSubscriptionRegistry({ ...options, feeds });

  options.events.on('applied', (event) => {
    // Local ingest: only partitions this instance serves; the others arrive through feeds.
    if (!options.servesLocally(event.view, event.partition)) return;
    index.dispatch({ view: event.view, partition: event.partition, nextOffset: event.nextOffset, changes: event.changes, compacted: false });
  });

  const viewOf = (viewId: string): ViewModel => {
    const view = viewsById.get(viewId);
    if (!view) throw new GatewayError('GW_QUERY_BAD_ARGUMENT', `unknown view ${viewId}`);
    return view;
  };

  return {
    get size() {
      return registry.size;
    },

    close() {
      registry.close();
    },

    rebalanced() {
      // Partitions this instance stopped serving get a feed from their new owner.
      for (const subscription of registry.active) {
        for (const partition of subscription.partitions) {
          if (!options.servesLocally(subscription.view, partition)) feeds.start(subscription, partition, () => undefined);
        }
      }
    },

    entity(viewId, key, after) {
      const view = viewOf(viewId);
      const partition = options.partitioner(key, options.partitionCounts.get(viewId) ?? 1);
      return registry.open(
        {
          view,
          partitions: [partition],
          decide: (change) => (change.key !== key ? undefined : change.after ? 'UPSERT' : 'REMOVE'),
          register: (subscription) => index.addEntity(viewId, key, subscription),
          snapshot: entitySnapshot(options.reader, viewId, key),
          announceSnapshotEnd: false,
        },
        after,
      );
    },

    list(viewId, request, after) {
      const view = viewOf(viewId);
      const partitions = Array.from({ length: options.partitionCounts.get(viewId) ?? 1 }, (_, partition) => partition);
      const matches = (row: Row | undefined) => row !== undefined && matchesFilter(row, request.filter);
      return registry.open(
        {
          view,
          partitions,
          decide: (change, compacted) => {
            if (matches(change.after)) return 'UPSERT';
            // From the change log the row before is unknown: the client may have had it.
            return compacted || matches(change.before) ? 'REMOVE' : undefined;
          },
          register: (subscription) => index.addList(viewId, request.filter, subscription),
          snapshot: listSnapshot(options.reader, viewId, request),
          announceSnapshotEnd: true,
        },
        after,
      );
    },
  };
}

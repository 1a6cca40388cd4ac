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
 * Authorization: a subscription opens with the subscriber's claims. Its row scope of the view
 * (resolved by the routed reader, as every read resolves it) is AND-ed into a list's filter and
 * checked on an entity's changes, and its snapshot is read through the reader with the same
 * claims. A change to a row outside the scope is not delivered; a row that leaves the scope
 * arrives as REMOVE, as a row that stops matching a list's filter does. On a list's resume from
 * the change log (rows before unknown), rows outside the scope are not delivered at all, not
 * even as REMOVE. A scope through a relation (`via`) is resolved once, when the subscription opens.
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
import { restrict, type RowScope } from '../routing/authorization.ts';
import type { Offsets } from '../routing/consistency.ts';
import type { ViewReader } from '../routing/reader.ts';
import type { ChangeEvents } from '../store/changes.ts';
import type { RecentChanges } from '../store/recent-changes.ts';
import type { Row } from '../store/view-store.ts';
import type { Claims } from '../views/declaration.ts';
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
  /** One row's changes, as `claims` may see them (see Authorization above). */
  entity(viewId: string, key: string, after: Offsets | undefined, claims: Claims): Promise<AsyncIterableIterator<ChangeEvent>>;
  /** A live grid of the rows `claims` may see that match the request's filter. */
  list(viewId: string, request: PageRequest, after: Offsets | undefined, claims: Claims): Promise<AsyncIterableIterator<ChangeEvent>>;
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

    async entity(viewId, key, after, claims) {
      const view = viewOf(viewId);
      const partition = options.partitioner(key, options.partitionCounts.get(viewId) ?? 1);
      const access = { claims, scopes: new Map<string, Promise<RowScope>>() };
      const scope = await options.reader.scope(viewId, { ...access, observe: () => undefined });
      const visible = (row: Row | undefined) => row !== undefined && (!scope || matchesFilter(row, scope));
      return registry.open(
        {
          view,
          partitions: [partition],
          decide: (change, compacted) => {
            if (change.key !== key) return undefined;
            if (!scope) return change.after ? 'UPSERT' : 'REMOVE';
            if (visible(change.after)) return 'UPSERT';
            // Deleted, or out of the scope now: a REMOVE if the subscriber may have had the row.
            return compacted || visible(change.before) ? 'REMOVE' : undefined;
          },
          register: (subscription) => index.addEntity(viewId, key, subscription),
          snapshot: entitySnapshot(options.reader, viewId, key),
          access,
          announceSnapshotEnd: false,
        },
        after,
      );
    },

    async list(viewId, request, after, claims) {
      const view = viewOf(viewId);
      const partitions = Array.from({ length: options.partitionCounts.get(viewId) ?? 1 }, (_, partition) => partition);
      const access = { claims, scopes: new Map<string, Promise<RowScope>>() };
      const scope = await options.reader.scope(viewId, { ...access, observe: () => undefined });
      const filter = restrict(request.filter, scope);
      const matches = (row: Row | undefined) => row !== undefined && matchesFilter(row, filter);
      return registry.open(
        {
          view,
          partitions,
          decide: (change, compacted) => {
            if (matches(change.after)) return 'UPSERT';
            if (!compacted) return matches(change.before) ? 'REMOVE' : undefined;
            // From the change log the row before is unknown: the client may have had it. Under a
            // row scope, only a row the caller may see now is removed: the key of a row outside
            // it (deleted, or someone else's) is not the caller's to learn.
            return !scope || (change.after !== undefined && matchesFilter(change.after, scope)) ? 'REMOVE' : undefined;
          },
          register: (subscription) => index.addList(viewId, filter, subscription),
          // Read through the reader, which applies the same scope (resolved above, kept in `access`).
          snapshot: listSnapshot(options.reader, viewId, request),
          access,
          announceSnapshotEnd: true,
        },
        after,
      );
    },
  };
}

/**
 * The subscriptions a batch of changes concerns, found without looking at the others: entity
 * subscriptions by view and key, list subscriptions by view, grouped by filter (subscriptions
 * with the same filter share one group). An idle subscription costs one entry here.
 */
import type { Filter } from '../query/page.ts';
import { deliverChanges, type PartitionChanges, type Subscription } from './subscription.ts';

export interface SubscriptionIndex {
  /** Adds an entity subscription; returns the function that removes it. */
  addEntity(viewId: string, key: string, subscription: Subscription): () => void;
  /** Adds a list subscription to the group of its filter; returns the function that removes it. */
  addList(viewId: string, filter: Filter, subscription: Subscription): () => void;
  /**
   * Delivers a batch to every subscription it concerns that covers its partition: entity
   * subscriptions get the changes of their key, list subscriptions the whole batch.
   */
  dispatch(batch: PartitionChanges): void;
}

export function createSubscriptionIndex(): SubscriptionIndex {
  const byKey = new Map<string, Map<string, Set<Subscription>>>();
  const groups = new Map<string, Map<string, { filter: Filter; members: Set<Subscription> }>>();

  return {
    addEntity(viewId, key, subscription) {
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

    addList(viewId, filter, subscription) {
      const signature = JSON.stringify(filter);
      let byFilter = groups.get(viewId);
      if (!byFilter) groups.set(viewId, (byFilter = new Map()));
      const group = byFilter.get(signature) ?? { filter, members: new Set<Subscription>() };
      group.members.add(subscription);
      byFilter.set(signature, group);
      const index = byFilter;
      return () => {
        group.members.delete(subscription);
        if (group.members.size === 0) index.delete(signature);
      };
    },

    dispatch(batch) {
      const keyed = byKey.get(batch.view.id);
      for (const change of batch.changes) {
        for (const subscription of keyed?.get(change.key) ?? []) {
          if (subscription.partitions.includes(batch.partition)) deliverChanges(subscription, { ...batch, changes: [change] });
        }
      }
      for (const group of groups.get(batch.view.id)?.values() ?? []) {
        for (const subscription of group.members) if (subscription.partitions.includes(batch.partition)) deliverChanges(subscription, batch);
      }
    },
  };
}

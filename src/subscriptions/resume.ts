/**
 * Resuming from a token: there is no snapshot, the subscription's partitions start at the
 * token's offsets, and the missed changes are delivered first. Those of partitions served here
 * come from this instance's recent-changes buffer; those of partitions owned elsewhere come
 * from their feeds, which start at the same offsets. The buffer holds the exact changes, or,
 * for a token older than it, the latest value per key from the change log.
 */
import { GatewayError } from '../errors.ts';
import type { Offsets } from '../routing/consistency.ts';
import type { RecentChanges } from '../store/recent-changes.ts';
import { CHANGES_PER_READ, deliverChanges, type Subscription } from './subscription.ts';

/** Sets the cursor of every partition to the token's offset; GW_QUERY_BAD_TOKEN if one is missing. */
export function startFromToken(subscription: Subscription, after: Offsets): void {
  const { view } = subscription;
  for (const partition of subscription.partitions) {
    const from = after[view.topic]?.[String(partition)];
    if (from === undefined) throw new GatewayError('GW_QUERY_BAD_TOKEN', `the resume token does not cover ${view.topic} partition ${partition}`);
    subscription.cursor.set(partition, BigInt(from));
  }
}

export interface ReplayOptions {
  readonly recent: RecentChanges;
  /** Missed changes a resume may deliver; beyond that the client subscribes again without a token. */
  readonly bufferSize: number;
}

/**
 * Delivers the changes of `partitions` (served here) from the subscription's cursor on, from
 * this instance's recent-changes buffer, partition after partition. Fails with
 * GW_RESUME_TOO_FAR once more than `bufferSize` changes were missed in all.
 */
export function replayRecentChanges(subscription: Subscription, partitions: readonly number[], options: ReplayOptions): void {
  const { view } = subscription;
  let missed = 0;
  for (const partition of partitions) {
    for (;;) {
      const local = options.recent.since(view.id, partition, String(subscription.cursor.get(partition)!), CHANGES_PER_READ);
      missed += local.changes.length;
      if (missed > options.bufferSize) {
        throw new GatewayError('GW_RESUME_TOO_FAR', `more than ${options.bufferSize} changes since the token; subscribe again without it`, {
          details: { topic: view.topic, partition },
        });
      }
      deliverChanges(subscription, { view, partition, nextOffset: local.next, changes: local.changes, compacted: local.compacted });
      if (local.changes.length < CHANGES_PER_READ) break;
    }
  }
}

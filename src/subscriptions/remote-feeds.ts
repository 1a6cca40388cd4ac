/**
 * Changes of partitions this instance does not serve: per subscription and partition a feed
 * long-polls the partition's owner (peer op `changes`) from the subscription's cursor and
 * delivers what it gets to that subscription alone. The feed follows the partition: it asks
 * the new owner after a rebalance, and once the partition is served here it catches up from
 * this instance's recent-changes buffer and stops, ingest delivering from then on.
 */
import type { Ownership } from '../cluster/ownership.ts';
import { GatewayError, isGatewayError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { PeerClient } from '../peer/client.ts';
import type { RecentChanges } from '../store/recent-changes.ts';
import type { AppliedChange } from '../store/view-store.ts';
import type { ViewModel } from '../views/model.ts';
import { CHANGES_PER_READ, deliverChanges, type Subscription } from './subscription.ts';

/** How long the owner holds a poll open while it has no changes. */
const FEED_WAIT_MS = 1000;

export interface RemoteFeedsOptions {
  readonly recent: RecentChanges;
  readonly ownership: Ownership;
  readonly peers: PeerClient;
  readonly servesLocally: (view: ViewModel, partition: number) => boolean;
  readonly logger: Logger;
}

export interface RemoteFeeds {
  /**
   * Starts the feed of a partition for a subscription, unless one runs. It runs until the
   * subscription stops or the partition is served here. `onFirst` is called once: when the
   * first poll, which the owner answers without waiting for changes, has been answered or has
   * failed, or when the feed ends before that. The owner's GW_RESUME_TOO_FAR ends the
   * subscription with that error; other errors are retried.
   */
  start(subscription: Subscription, partition: number, onFirst: () => void): void;
}

export function createRemoteFeeds(options: RemoteFeedsOptions): RemoteFeeds {
  /** Long-polls the owner of a remote partition for the subscription's changes until it stops. */
  const feed = async (subscription: Subscription, partition: number, onFirst: () => void): Promise<void> => {
    const view = subscription.view;
    let first = true;
    while (!subscription.stopped && !subscription.stream.closed) {
      const from = subscription.cursor.get(partition) ?? 0n;
      try {
        if (options.servesLocally(view, partition)) {
          // The partition moved here: catch up from this instance's own buffer, then ingest delivers.
          const local = options.recent.since(view.id, partition, String(from), CHANGES_PER_READ);
          deliverChanges(subscription, { view, partition, nextOffset: local.next, changes: local.changes, compacted: local.compacted });
          if (local.changes.length < CHANGES_PER_READ) break;
          continue;
        }
        const route = options.ownership.route(view, [partition]);
        const [url] = [...route.remote.keys()];
        if (!url) throw new GatewayError('GW_PARTITION_UNAVAILABLE', `${view.topic} partition ${partition} has no owner right now`);
        const answer = await options.peers.call(
          url,
          {
            op: 'changes',
            view: view.id,
            partitions: [partition],
            args: { since: { [partition]: String(from) }, waitMs: first ? 0 : FEED_WAIT_MS, limit: CHANGES_PER_READ },
          },
          FEED_WAIT_MS,
        );
        const result = (answer.result as Record<string, { changes: AppliedChange[]; next: string; compacted: boolean }>)[String(partition)];
        if (!result || !Array.isArray(result.changes))
          throw new GatewayError('GW_PEER_BAD_RESPONSE', `peer ${url} sent no changes for partition ${partition}`);
        deliverChanges(subscription, { view, partition, nextOffset: result.next, changes: result.changes, compacted: result.compacted });
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

  return {
    start(subscription, partition, onFirst) {
      if (subscription.feeding.has(partition)) return;
      subscription.feeding.add(partition);
      void feed(subscription, partition, onFirst).finally(() => subscription.feeding.delete(partition));
    },
  };
}

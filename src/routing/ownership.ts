/**
 * Who serves which partition, as this instance knows it. Built after every rebalance from the
 * group description: each member's advertised URL (assignor userData) and its assignment.
 * Partitions assigned to this instance are served locally; the rest are routed to their owner.
 * A replicated view is always local.
 */
import { GatewayError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { ViewModel } from '../views/model.ts';

export interface GroupMember {
  readonly memberId: string;
  readonly url: string;
  readonly assignment: Readonly<Record<string, readonly number[]>>;
}

export interface Route {
  /** Assigned here and caught up. */
  readonly local: number[];
  /** Assigned here but still restoring (further behind than the allowed lag). */
  readonly restoring: number[];
  /** Partitions per peer URL. */
  readonly remote: Map<string, number[]>;
}

export interface Ownership {
  /** Splits a view's partitions into local and per-peer sets; throws for partitions nobody serves. */
  route(view: ViewModel, partitions: readonly number[]): Route;
  /** Rebuilds the map from the group (after a rebalance, or after a peer said "not owner"). */
  refresh(): Promise<void>;
  /** topic -> partition -> owner URL, for /readyz and debugging. */
  snapshot(): Record<string, Record<string, string>>;
  /** Who owned a partition before the last change of its owner (a fallback while it moves). */
  previousOwner(topic: string, partition: number): string | undefined;
}

export interface OwnershipOptions {
  readonly selfUrl: () => string;
  /** Partitions assigned to this instance right now, per topic. */
  readonly localPartitions: (topic: string) => readonly number[];
  /** Whether this instance's copy of a partition is within the allowed lag. */
  readonly caughtUp: (topic: string, partition: number) => boolean;
  /** The group's current members, URLs decoded. */
  readonly members: () => Promise<readonly GroupMember[]>;
  readonly logger: Logger;
}

export function createOwnership(options: OwnershipOptions): Ownership {
  let owners = new Map<string, Map<number, string>>();
  const previous = new Map<string, string>();
  let refreshing: Promise<void> | undefined;

  const rebuild = async (): Promise<void> => {
    const next = new Map<string, Map<number, string>>();
    for (const member of await options.members()) {
      for (const [topic, partitions] of Object.entries(member.assignment)) {
        let byPartition = next.get(topic);
        if (!byPartition) next.set(topic, (byPartition = new Map()));
        for (const partition of partitions) byPartition.set(partition, member.url);
      }
    }
    for (const [topic, byPartition] of owners) {
      for (const [partition, url] of byPartition) {
        const now = next.get(topic)?.get(partition);
        if (now !== undefined && now !== url) previous.set(`${topic}/${partition}`, url);
      }
    }
    owners = next;
  };

  return {
    route(view, partitions) {
      const local: number[] = [];
      const restoring: number[] = [];
      const remote = new Map<string, number[]>();
      if (view.replicated) {
        for (const partition of partitions) (options.caughtUp(view.topic, partition) ? local : restoring).push(partition);
        return { local, restoring, remote };
      }
      const mine = new Set(options.localPartitions(view.topic));
      const unserved: number[] = [];
      for (const partition of partitions) {
        if (mine.has(partition)) {
          (options.caughtUp(view.topic, partition) ? local : restoring).push(partition);
          continue;
        }
        const url = owners.get(view.topic)?.get(partition);
        if (!url || url === options.selfUrl()) {
          unserved.push(partition);
          continue;
        }
        const list = remote.get(url);
        if (list) list.push(partition);
        else remote.set(url, [partition]);
      }
      if (unserved.length > 0) {
        throw new GatewayError('GW_PARTITION_UNAVAILABLE', `${view.topic} partition(s) ${unserved.join(', ')} have no serving instance right now`, {
          details: { topic: view.topic, partitions: unserved },
        });
      }
      return { local, restoring, remote };
    },

    previousOwner(topic, partition) {
      return previous.get(`${topic}/${partition}`);
    },

    refresh() {
      refreshing ??= rebuild()
        .catch((error: unknown) => options.logger.warn('partition map refresh failed', { error }))
        .finally(() => {
          refreshing = undefined;
        });
      return refreshing;
    },

    snapshot() {
      const out: Record<string, Record<string, string>> = {};
      for (const [topic, byPartition] of owners) {
        out[topic] = Object.fromEntries([...byPartition].sort(([a], [b]) => a - b).map(([p, url]) => [String(p), url]));
      }
      return out;
    },
  };
}

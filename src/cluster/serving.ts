/**
 * Whether this instance serves a partition, and whether it is ready: one place for the decision
 * that the subscription hub, the peer server and `/readyz` each ask in their own words.
 *
 *   servesLocally(view, p)  = (replicated(view) or assigned(p)) and caughtUp(p)
 *   peerServes(view, p, fb) = assigned or replicated: caughtUp ? 'yes' : 'restoring'
 *                             otherwise (a copy kept after revocation): fb and caughtUp ? 'yes' : 'no'
 *   ready                   = (some partition assigned, or no partitioned view) and none lags
 *                             more than the allowed lag, none is stalled, and no consumer is down
 */
import type { ViewModel } from '../views/model.ts';

/** What the serving decision reads of ingest (the ingestor provides it). */
export interface PartitionState {
  /** Partitions of a topic assigned to this instance right now. */
  assigned(topic: string): readonly number[];
  /** Whether the local copy of a partition is within the allowed lag. */
  caughtUp(topic: string, partition: number): boolean;
  /** Assigned partitions with their lag. */
  progress(): ReadonlyArray<{ readonly topic: string; readonly partition: number; readonly lag: number }>;
  /** Partitions that wait to retry (the dead-letter topic refuses writes), with why. */
  stalled(): ReadonlyArray<{ readonly topic: string; readonly partition: number; readonly since: number; readonly reason: string }>;
  /** Set while a consumer is down after a crash (it is being restarted). */
  readonly failure: Error | undefined;
}

export interface Readiness {
  readonly ready: boolean;
  readonly detail: Record<string, unknown>;
}

/** A peer's answer to "do you serve this partition": yes, not yet (restoring), or no. */
export type PeerServing = 'yes' | 'restoring' | 'no';

export interface Serving {
  /** This instance owns (or replicates) the partition and its copy is caught up. */
  servesLocally(view: ViewModel, partition: number): boolean;
  /**
   * For a peer's read: `fallback` reads (the caller's owner is moving) accept a caught-up copy
   * this instance keeps without owning it.
   */
  peerServes(view: ViewModel, partition: number, fallback: boolean): PeerServing;
  readiness(): Readiness;
}

export interface ServingOptions {
  readonly views: readonly ViewModel[];
  readonly partitions: PartitionState;
  /** Records a partition may be behind and still count as ready. */
  readonly maxLag: number;
}

export function createServing({ views, partitions, maxLag }: ServingOptions): Serving {
  const owns = (view: ViewModel, partition: number) => view.replicated || partitions.assigned(view.topic).includes(partition);
  const partitioned = views.some((view) => !view.replicated);
  return {
    servesLocally: (view, partition) => owns(view, partition) && partitions.caughtUp(view.topic, partition),
    peerServes(view, partition, fallback) {
      const ready = partitions.caughtUp(view.topic, partition);
      if (owns(view, partition)) return ready ? 'yes' : 'restoring';
      return fallback && ready ? 'yes' : 'no';
    },
    readiness() {
      const progress = partitions.progress();
      const lagging = progress.filter((entry) => entry.lag > maxLag);
      const stalled = partitions.stalled();
      const failure = partitions.failure;
      const ready = (progress.length > 0 || !partitioned) && lagging.length === 0 && stalled.length === 0 && !failure;
      return {
        ready,
        detail: {
          partitions: progress.length,
          lagging: lagging.map((entry) => ({ topic: entry.topic, partition: entry.partition, lag: entry.lag })),
          stalled: stalled.map((entry) => ({
            topic: entry.topic,
            partition: entry.partition,
            since: new Date(entry.since).toISOString(),
            reason: entry.reason,
          })),
          ...(failure ? { consumer: `down, restarting: ${failure.message}` } : {}),
        },
      };
    },
  };
}

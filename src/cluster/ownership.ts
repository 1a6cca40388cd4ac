/**
 * Who serves which partition, as this instance knows it. Built after every rebalance from the
 * group description: each member's advertised URL (assignor userData) and its assignment.
 * Partitions assigned to this instance are served locally; the rest are routed to their owner.
 * A replicated view is always local.
 */
import type { Logger } from '../log.ts';
import type { ViewModel } from '../views/model.ts';

export interface GroupMember {
  readonly memberId: string;
  readonly url: string;
  readonly assignment: Readonly<Record<string, readonly number[]>>;
  /** Partitions the member keeps a copy of without owning them (as it said when it joined). */
  readonly held?: Readonly<Record<string, readonly number[]>>;
  /**
   * Partitions the member owned when it joined. Those it was not assigned again it still holds:
   * copies are kept after revocation, and it says so in `held` only at its next join.
   */
  readonly owned?: Readonly<Record<string, readonly number[]>>;
}

export interface Route {
  /** Assigned here and caught up. */
  readonly local: number[];
  /** Assigned here but still restoring (further behind than the allowed lag). */
  readonly restoring: number[];
  /** Partitions per peer URL. */
  readonly remote: Map<string, number[]>;
  /**
   * Partitions with no known serving owner right now: mid-rebalance, or just given away by this
   * instance while the map still names it. Callers treat them as moving (wait, refresh, retry).
   */
  readonly unknown: number[];
}

export interface Ownership {
  /** Splits a view's partitions into local and per-peer sets; throws for partitions nobody serves. */
  route(view: ViewModel, partitions: readonly number[]): Route;
  /** Rebuilds the map from the group (after a rebalance, or after a peer said "not owner"). */
  refresh(): Promise<void>;
  /** topic -> partition -> owner URL, for /readyz and debugging. */
  snapshot(): Record<string, Record<string, string>>;
  /**
   * Who may hold a copy of a partition besides its owner: the owners this instance saw before,
   * most recent first (up to three), then the members that, by their last join metadata, keep a
   * copy: those it lists as held, and those it owned then and was not assigned again (an instance
   * that joined later knows only these). They are fallbacks while the partition moves; each
   * checks its copy's lag before it answers.
   */
  copyHolders(topic: string, partition: number): readonly string[];
}

export interface OwnershipOptions {
  readonly selfUrl: () => string;
  /** Partitions assigned to this instance right now, per topic. */
  readonly localPartitions: (topic: string) => readonly number[];
  /** Whether this instance's copy of a partition is within the allowed lag. */
  readonly caughtUp: (topic: string, partition: number) => boolean;
  /** The group's current members, URLs decoded; undefined while the group is rebalancing. */
  readonly members: () => Promise<readonly GroupMember[] | undefined>;
  readonly logger: Logger;
}

export function createOwnership(options: OwnershipOptions): Ownership {
  let owners = new Map<string, Map<number, string>>();
  const previous = new Map<string, string[]>();
  let holders = new Map<string, string[]>();
  let refreshing: Promise<void> | undefined;
  let requested = 0;

  /** Rebuilds from a stable group description; keeps the current map while it is not stable. */
  const rebuild = async (): Promise<void> => {
    const members = await options.members();
    if (!members) return;
    const next = new Map<string, Map<number, string>>();
    const nextHolders = new Map<string, string[]>();
    const addHolder = (topic: string, partition: number, url: string): void => {
      const id = `${topic}/${partition}`;
      const list = nextHolders.get(id) ?? [];
      if (!list.includes(url)) nextHolders.set(id, [...list, url]);
    };
    for (const member of members) {
      if (member.url) {
        for (const [topic, partitions] of Object.entries(member.held ?? {})) {
          for (const partition of partitions) addHolder(topic, partition, member.url);
        }
        for (const [topic, partitions] of Object.entries(member.owned ?? {})) {
          const assigned = member.assignment[topic] ?? [];
          for (const partition of partitions) if (!assigned.includes(partition)) addHolder(topic, partition, member.url);
        }
      }
      for (const [topic, partitions] of Object.entries(member.assignment)) {
        let byPartition = next.get(topic);
        if (!byPartition) next.set(topic, (byPartition = new Map()));
        for (const partition of partitions) byPartition.set(partition, member.url);
      }
    }
    for (const [topic, byPartition] of owners) {
      for (const [partition, url] of byPartition) {
        const now = next.get(topic)?.get(partition);
        if (now !== undefined && now !== url) {
          const id = `${topic}/${partition}`;
          previous.set(id, [url, ...(previous.get(id) ?? []).filter((earlier) => earlier !== url && earlier !== now)].slice(0, 3));
        }
      }
    }
    owners = next;
    holders = nextHolders;
  };

  return {
    route(view, partitions) {
      const local: number[] = [];
      const restoring: number[] = [];
      const remote = new Map<string, number[]>();
      const unknown: number[] = [];
      if (view.replicated) {
        for (const partition of partitions) (options.caughtUp(view.topic, partition) ? local : restoring).push(partition);
        return { local, restoring, remote, unknown };
      }
      const mine = new Set(options.localPartitions(view.topic));
      for (const partition of partitions) {
        if (mine.has(partition)) {
          (options.caughtUp(view.topic, partition) ? local : restoring).push(partition);
          continue;
        }
        const url = owners.get(view.topic)?.get(partition);
        if (!url || url === options.selfUrl()) {
          unknown.push(partition);
          continue;
        }
        const list = remote.get(url);
        if (list) list.push(partition);
        else remote.set(url, [partition]);
      }
      return { local, restoring, remote, unknown };
    },

    copyHolders(topic, partition) {
      const id = `${topic}/${partition}`;
      const seen = previous.get(id) ?? [];
      const held = (holders.get(id) ?? []).filter((url) => !seen.includes(url));
      return held.length === 0 ? seen : [...seen, ...held];
    },

    refresh() {
      // A refresh asked for while one runs must see a newer group: run again after it.
      const ticket = ++requested;
      const run = async (): Promise<void> => {
        while (true) {
          const upTo = requested;
          await rebuild().catch((error: unknown) => options.logger.warn('partition map refresh failed', { error }));
          if (requested === upTo) return;
        }
      };
      refreshing ??= run().finally(() => {
        refreshing = undefined;
      });
      void ticket;
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

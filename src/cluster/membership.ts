/**
 * This instance's side of the consumer group's membership: what it tells the group when it joins
 * (its URL, the partitions it owns and the copies it still holds) and how the leader turns every
 * member's claim into an assignment; and, the other way, the group's members as ownership reads
 * them. The Kafka client runs the protocol; this module only encodes and decodes.
 */
import type { Logger } from '../log.ts';
import type { ViewModel } from '../views/model.ts';
import { assignPartitions, decodeMemberClaimOrEmpty, encodeMemberUserData, type Assignment } from './assignment.ts';
import type { GroupMember } from './ownership.ts';

export const ASSIGNOR_PROTOCOL = 'gateway-sticky-v1';

export interface MembershipOptions {
  readonly views: readonly ViewModel[];
  /** This instance's advertised URL (known once the HTTP server listens). */
  readonly selfUrl: () => string;
  /** Partitions of a topic assigned to this instance right now. */
  readonly assigned: (topic: string) => readonly number[];
  /** Partition count per view id (known after the topics are prepared). */
  readonly partitionCount: (viewId: string) => number;
  /** Whether this instance's store holds any of a partition. */
  readonly holds: (view: ViewModel, partition: number) => boolean;
  readonly logger: Logger;
}

/** A group assignor as the Kafka client takes it. */
export interface GatewayAssignor {
  readonly protocol: string;
  userData(): Buffer;
  assign(members: ReadonlyArray<{ memberId: string; userData: Buffer | undefined }>, partitionCounts: Readonly<Record<string, number>>): Assignment;
}

export function createAssignor(options: MembershipOptions): GatewayAssignor {
  const { views, logger } = options;
  return {
    protocol: ASSIGNOR_PROTOCOL,
    userData() {
      const owned: Record<string, number[]> = {};
      const held: Record<string, number[]> = {};
      for (const view of views) {
        if (view.replicated) continue;
        const assigned = options.assigned(view.topic);
        owned[view.topic] = [...assigned];
        // Copies kept from earlier ownership, which peers may read while their owner is gone.
        const count = options.partitionCount(view.id);
        held[view.topic] = Array.from({ length: count }, (_, p) => p).filter((p) => !assigned.includes(p) && options.holds(view, p));
      }
      return encodeMemberUserData({ url: options.selfUrl(), owned, held });
    },
    assign: (members, partitionCounts) =>
      assignPartitions(
        members.map((member) => {
          const decoded = decodeMemberClaimOrEmpty(member.memberId, member.userData);
          if (decoded.error) logger.warn('group member sent unusable assignor data', { memberId: member.memberId, error: decoded.error });
          return decoded.claim;
        }),
        partitionCounts,
      ),
  };
}

/** The group as the Kafka client describes it. */
export interface GroupDescription {
  readonly state: string;
  readonly members: ReadonlyArray<{ memberId: string; userData?: Buffer | undefined; assignment: Readonly<Record<string, readonly number[]>> }>;
}

/**
 * The members of a stable group with their decoded claims; undefined mid-rebalance, when the
 * coordinator reports members without assignments (not a map to use).
 */
export function groupMembers(group: GroupDescription): GroupMember[] | undefined {
  if (group.state !== 'Stable') return undefined;
  return group.members.map((member) => {
    const { claim } = decodeMemberClaimOrEmpty(member.memberId, member.userData);
    return { memberId: member.memberId, url: claim.url, assignment: member.assignment, held: claim.held ?? {}, owned: claim.owned };
  });
}

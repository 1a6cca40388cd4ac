/**
 * One subscription's state and how changes reach it. A subscription covers some partitions of
 * one view; per partition its cursor is the next offset it has covered. Changes below the
 * cursor were already delivered (or were part of the snapshot) and are skipped, so a change
 * that arrives twice, from ingest and from a feed, or from a snapshot's overlap, is delivered
 * once. Until its starting point is known, the subscription holds the changes that arrive.
 */
import type { GatewayError } from '../errors.ts';
import { encodeToken } from '../routing/consistency.ts';
import type { AppliedChange, Row } from '../store/view-store.ts';
import type { ViewModel } from '../views/model.ts';
import type { EventStream } from './stream.ts';

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
export interface PartitionChanges {
  readonly view: ViewModel;
  readonly partition: number;
  readonly nextOffset: string;
  readonly changes: readonly AppliedChange[];
  readonly compacted: boolean;
}

/** Whether a change is an event for the subscription, and which; undefined to skip it. */
export type Decide = (change: AppliedChange, compacted: boolean) => 'UPSERT' | 'REMOVE' | undefined;

export interface Subscription {
  readonly view: ViewModel;
  readonly partitions: readonly number[];
  /** Next offset covered per partition, once known. */
  readonly cursor: Map<number, bigint>;
  /** Changes that arrived before the cursor was known. */
  held: PartitionChanges[] | undefined;
  readonly stream: EventStream<ChangeEvent>;
  readonly decide: Decide;
  /** Partitions whose changes come from a feed (owned elsewhere). */
  readonly feeding: Set<number>;
  stopped: boolean;
}

/** Changes read at a time from a recent-changes buffer, this instance's or an owner's. */
export const CHANGES_PER_READ = 1000;

/**
 * The subscription's resume token: its cursor, with `partition` at `next` when both are given
 * (the token of an event in the middle of a batch).
 */
export function tokenOf(subscription: Subscription, partition?: number, next?: bigint): string {
  const offsets: Record<string, string> = {};
  for (const [p, offset] of subscription.cursor) offsets[String(p)] = String(p === partition && next !== undefined ? next : offset);
  return encodeToken({ [subscription.view.topic]: offsets });
}

/**
 * Delivers one partition's changes from the subscription's cursor on, in offset order, then
 * advances the cursor to the batch's next offset. Held while the cursor is unknown; ignored
 * for a partition the subscription does not cover.
 */
export function deliverChanges(subscription: Subscription, batch: PartitionChanges): void {
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
    subscription.stream.push({
      kind,
      key: change.key,
      row: kind === 'UPSERT' ? (change.after ?? null) : null,
      token: tokenOf(subscription, batch.partition, next),
    });
  }
  if (BigInt(batch.nextOffset) > covered) subscription.cursor.set(batch.partition, BigInt(batch.nextOffset));
}

/**
 * The current state a fresh subscription starts with. The snapshot is a routed read, so it
 * covers partitions owned elsewhere too, and it reports per partition the offset it was read
 * at: that offset becomes the subscription's cursor, so live changes are delivered exactly
 * from where the snapshot ends.
 */
import type { PageRequest } from '../query/page.ts';
import type { ReadContext, ViewReader } from '../routing/reader.ts';
import type { RowScope } from '../routing/authorization.ts';
import type { Claims } from '../views/declaration.ts';
import { tokenOf, type ChangeEvent, type Subscription } from './subscription.ts';

/** Reads a snapshot; its events' tokens are replaced once the read offsets are known. */
export type SnapshotRead = (context: ReadContext) => Promise<ChangeEvent[]>;

/**
 * Whose subscription it is: the subscriber's claims, and the row scopes already resolved for
 * them when it opened, so the snapshot is read under the same scope its changes are decided by.
 */
export interface SnapshotAccess {
  readonly claims: Claims;
  readonly scopes: Map<string, Promise<RowScope>>;
}

/** One SNAPSHOT event with the row of `key` (row null if there is none). */
export function entitySnapshot(reader: ViewReader, viewId: string, key: string): SnapshotRead {
  return async (context) => {
    const [row] = await reader.lookup(viewId, [key], context);
    return [{ kind: 'SNAPSHOT', key, row: row ?? null, token: '' }];
  };
}

/** One SNAPSHOT event per row of the requested page, in its order. */
export function listSnapshot(reader: ViewReader, viewId: string, request: PageRequest): SnapshotRead {
  return async (context) => {
    const [page] = await reader.pages(viewId, [request], context);
    return page!.rows.map((row) => ({ kind: 'SNAPSHOT' as const, key: row.key, row: row.row, token: '' }));
  };
}

/**
 * Reads the snapshot and sets the subscription's cursor to the offsets it was read at (0 for
 * a partition the read did not report). Returns its events, each with the token of that cursor.
 */
export async function readSnapshot(subscription: Subscription, read: SnapshotRead, access: SnapshotAccess): Promise<ChangeEvent[]> {
  const { view } = subscription;
  const observed: Record<string, string> = {};
  const events = await read({
    claims: access.claims,
    scopes: access.scopes,
    observe: (topic, offsets) => {
      if (topic === view.topic) Object.assign(observed, offsets);
    },
  });
  for (const partition of subscription.partitions) subscription.cursor.set(partition, BigInt(observed[String(partition)] ?? '0'));
  return events.map((event) => ({ ...event, token: tokenOf(subscription) }));
}

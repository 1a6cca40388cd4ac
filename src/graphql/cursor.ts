/**
 * Connection cursors. A cursor is a position in a sort order, not an offset, so it stays valid
 * while rows are added, changed or removed: the next page starts right after that position.
 *
 *   cursor  = base64url( JSON [ 1, sortField, sortValue, key ] )   ; 1 = format version
 *
 * A cursor is only accepted for the connection's current sort field; anything else is
 * GW_QUERY_BAD_CURSOR rather than a silently wrong page.
 */
import { GatewayError } from '../errors.ts';
import type { Value } from '../query/page.ts';

const VERSION = 1;

export function encodeCursor(sortField: string, sortValue: Value, key: string): string {
  return Buffer.from(JSON.stringify([VERSION, sortField, sortValue, key])).toString('base64url');
}

export function decodeCursor(cursor: string, sortField: string): [Value, string] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 4 ||
    parsed[0] !== VERSION ||
    typeof parsed[1] !== 'string' ||
    (typeof parsed[2] !== 'string' && typeof parsed[2] !== 'number') ||
    typeof parsed[3] !== 'string'
  ) {
    throw new GatewayError('GW_QUERY_BAD_CURSOR', 'cursor is not one this gateway issued');
  }
  if (parsed[1] !== sortField) {
    throw new GatewayError('GW_QUERY_BAD_CURSOR', `cursor was issued for ordering by ${parsed[1]}, not ${sortField}`, {
      details: { cursorSortField: parsed[1], sortField },
    });
  }
  return [parsed[2], parsed[3]];
}

/**
 * The rows the grid holds: one contiguous stretch of the `orders` connection in sort order, read
 * page by page with cursors and kept current by live changes. No offsets anywhere: a page extends
 * the window from the cursor of its first or last paged row.
 *
 * Contract:
 * - `rows` is sorted by the comparator and holds each key once.
 * - `hasPrevious` / `hasNext`: rows exist before the first / after the last row that the window
 *   does not hold. Between its first and last row the window holds every row (no gap).
 * - A row read from a page keeps the cursor of its edge until its sort value changes; live rows
 *   have none. `startCursor()` / `endCursor()` are the cursors of the first / last row that has
 *   one, so a page read from them may repeat rows the window holds: those replace their old copy.
 * - A live upsert is placed when its position lies inside the window (or beyond an end that has
 *   nothing after it); a row that moves out of the window is dropped from it, to be read again
 *   by the page that reaches it.
 */
import type { OrderRow } from './rows.ts';

export interface PageEdge {
  readonly cursor: string;
  readonly node: OrderRow;
}

export interface PageInfo {
  readonly hasNextPage: boolean;
  readonly hasPreviousPage: boolean;
}

export interface RowWindow {
  readonly rows: readonly OrderRow[];
  readonly hasPrevious: boolean;
  readonly hasNext: boolean;
  startCursor(): string | undefined;
  endCursor(): string | undefined;
  indexOf(key: string): number;
  /** Starts over with the first page (or the last, read backwards). */
  replace(edges: readonly PageEdge[], pageInfo: PageInfo): void;
  /** Adds a page read forwards from `endCursor()`; returns how many keys were new. */
  append(edges: readonly PageEdge[], pageInfo: PageInfo): number;
  /** Adds a page read backwards from `startCursor()`; returns how many keys were new. */
  prepend(edges: readonly PageEdge[], pageInfo: PageInfo): number;
  /** A live change of a row that matches the filter; returns whether the window changed. */
  upsert(row: OrderRow): boolean;
  /** A live removal (deleted, or no longer matching); returns whether the window changed. */
  remove(key: string): boolean;
  /** Drops `count` rows from the start (the window then has rows before it). */
  trimStart(count: number): void;
  /** Drops `count` rows from the end (the window then has rows after it). */
  trimEnd(count: number): void;
}

export function createRowWindow(compare: (a: OrderRow, b: OrderRow) => number): RowWindow {
  let rows: OrderRow[] = [];
  const cursors = new Map<string, string>();
  let hasPrevious = false;
  let hasNext = false;

  /** First index whose row sorts after `row` (rows equal to it cannot exist: keys are unique). */
  const insertionPoint = (row: OrderRow): number => {
    let low = 0;
    let high = rows.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compare(rows[middle]!, row) < 0) low = middle + 1;
      else high = middle;
    }
    return low;
  };
  const indexOf = (key: string): number => rows.findIndex((row) => row.orderId === key);
  const removeAt = (index: number): OrderRow => {
    const [removed] = rows.splice(index, 1);
    return removed!;
  };
  /** Places a paged row with its cursor; true when its key was not in the window. */
  const placePaged = (edge: PageEdge): boolean => {
    const existing = indexOf(edge.node.orderId);
    if (existing >= 0) removeAt(existing);
    rows.splice(insertionPoint(edge.node), 0, edge.node);
    cursors.set(edge.node.orderId, edge.cursor);
    return existing < 0;
  };
  const cursorFrom = (indexes: Iterable<number>): string | undefined => {
    for (const index of indexes) {
      const cursor = cursors.get(rows[index]!.orderId);
      if (cursor !== undefined) return cursor;
    }
    return undefined;
  };
  function* upwards(): Iterable<number> {
    for (let i = 0; i < rows.length; i++) yield i;
  }
  function* downwards(): Iterable<number> {
    for (let i = rows.length - 1; i >= 0; i--) yield i;
  }
  const forget = (dropped: readonly OrderRow[]) => {
    for (const row of dropped) cursors.delete(row.orderId);
  };

  return {
    get rows() {
      return rows;
    },
    get hasPrevious() {
      return hasPrevious;
    },
    get hasNext() {
      return hasNext;
    },
    startCursor: () => cursorFrom(upwards()),
    endCursor: () => cursorFrom(downwards()),
    indexOf,
    replace(edges, pageInfo) {
      rows = [];
      cursors.clear();
      for (const edge of edges) placePaged(edge);
      hasPrevious = pageInfo.hasPreviousPage;
      hasNext = pageInfo.hasNextPage;
    },
    append(edges, pageInfo) {
      let added = 0;
      for (const edge of edges) if (placePaged(edge)) added += 1;
      hasNext = pageInfo.hasNextPage;
      return added;
    },
    prepend(edges, pageInfo) {
      let added = 0;
      for (const edge of edges) if (placePaged(edge)) added += 1;
      hasPrevious = pageInfo.hasPreviousPage;
      return added;
    },
    upsert(row) {
      const existing = indexOf(row.orderId);
      if (existing >= 0) {
        const before = rows[existing]!;
        if (compare(before, row) === 0) {
          // Same position (the sort value did not change): replaced in place, cursor kept.
          rows[existing] = row;
          return true;
        }
        removeAt(existing);
        cursors.delete(row.orderId);
      }
      const first = rows[0];
      const last = rows[rows.length - 1];
      const inside =
        first === undefined || last === undefined
          ? !hasPrevious && !hasNext
          : (!hasPrevious || compare(row, first) > 0) && (!hasNext || compare(row, last) < 0);
      if (inside) rows.splice(insertionPoint(row), 0, row);
      return inside || existing >= 0;
    },
    remove(key) {
      const existing = indexOf(key);
      if (existing < 0) return false;
      removeAt(existing);
      cursors.delete(key);
      return true;
    },
    trimStart(count) {
      if (count <= 0) return;
      forget(rows.splice(0, count));
      hasPrevious = true;
    },
    trimEnd(count) {
      if (count <= 0) return;
      forget(rows.splice(Math.max(0, rows.length - count), count));
      hasNext = true;
    },
  };
}

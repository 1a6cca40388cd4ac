/**
 * The grid on screen: a header and a virtualized body (TanStack Virtual) of fixed-height rows
 * from the TanStack Table row model. Only the rows in view (plus a few) are in the DOM, in order,
 * each as `.grid-row[data-key=<orderId>]` with one `[data-col=<column id>]` cell per column.
 *
 * `show` replaces the rows and keeps the ones on screen where they were (scroll anchoring by key),
 * so rows added or removed above the view, or a page read in front of the window, do not move
 * it; at the very top of a window with nothing before it, the view stays at the top, so new
 * first rows come into view. `onRange` reports the indexes in view after every scroll or change.
 */
import { elementScroll, observeElementOffset, observeElementRect, Virtualizer } from '@tanstack/virtual-core';
import { cellText, createGridTable, LAYOUT } from './columns.ts';
import type { OrderRow } from './rows.ts';

export const ROW_HEIGHT = 28;

export interface GridView {
  show(rows: readonly OrderRow[], options: { changed?: ReadonlySet<string>; stickToTop: boolean }): void;
  /** Scrolls to the first row (after a reload). */
  scrollToTop(): void;
}

export interface GridViewOptions {
  readonly header: HTMLElement;
  readonly scroll: HTMLElement;
  readonly body: HTMLElement;
  onRange(first: number, last: number): void;
  /** The user moved the view: wheel, keys, pointer or touch on the grid. */
  onUserMove(): void;
}

export function createGridView(options: GridViewOptions): GridView {
  const { header, scroll, body } = options;
  let rows: readonly OrderRow[] = [];
  const table = createGridTable(rows);
  const elements = new Map<string, HTMLElement>();
  const shown = new WeakMap<HTMLElement, OrderRow>();
  let flashing = new Set<string>();

  const width = table.getAllLeafColumns().reduce((sum, column) => sum + (LAYOUT[column.id]?.width ?? 100), 0);
  header.replaceChildren(
    ...table.getHeaderGroups().flatMap((group) =>
      group.headers.map((column) => {
        const cell = document.createElement('div');
        cell.className = `cell${LAYOUT[column.id]?.align === 'right' ? ' right' : ''}`;
        cell.style.width = `${LAYOUT[column.id]?.width ?? 100}px`;
        cell.dataset['col'] = column.id;
        cell.textContent = String(column.column.columnDef.header ?? column.id);
        return cell;
      }),
    ),
  );
  header.style.width = `${width}px`;
  body.style.width = `${width}px`;
  scroll.addEventListener('scroll', () => {
    header.parentElement!.scrollLeft = scroll.scrollLeft;
  });
  for (const input of ['wheel', 'pointerdown', 'touchmove']) scroll.addEventListener(input, () => options.onUserMove(), { passive: true });
  scroll.ownerDocument.addEventListener('keydown', () => options.onUserMove(), { passive: true });

  const fillRow = (element: HTMLElement, index: number) => {
    const row = table.getRowModel().rows[index];
    if (!row) return;
    element.replaceChildren(
      ...row.getAllCells().map((cell) => {
        const div = document.createElement('div');
        const layout = LAYOUT[cell.column.id];
        div.className = `cell${layout?.align === 'right' ? ' right' : ''}`;
        div.style.width = `${layout?.width ?? 100}px`;
        div.dataset['col'] = cell.column.id;
        div.textContent = cellText(cell.column.id, cell.getValue());
        return div;
      }),
    );
    element.dataset['state'] = row.original.state;
  };

  const render = () => {
    body.style.height = `${virtualizer.getTotalSize()}px`;
    const items = virtualizer.getVirtualItems();
    const keep = new Set<string>();
    const ordered: HTMLElement[] = [];
    for (const item of items) {
      const row = rows[item.index];
      if (!row) continue;
      keep.add(row.orderId);
      let element = elements.get(row.orderId);
      if (!element) {
        element = document.createElement('div');
        element.className = 'grid-row';
        element.dataset['key'] = row.orderId;
        elements.set(row.orderId, element);
      }
      if (shown.get(element) !== row) {
        fillRow(element, item.index);
        shown.set(element, row);
      }
      if (flashing.has(row.orderId)) {
        element.classList.remove('flash');
        void element.offsetWidth; // restarts the animation
        element.classList.add('flash');
      }
      element.dataset['index'] = String(item.index);
      element.style.transform = `translateY(${item.start}px)`;
      ordered.push(element);
    }
    flashing = new Set();
    for (const [key, element] of elements) {
      if (!keep.has(key)) {
        element.remove();
        elements.delete(key);
      }
    }
    // The DOM holds the rows in view in their order.
    if (ordered.some((element, i) => body.children[i] !== element) || body.children.length !== ordered.length) body.replaceChildren(...ordered);
    // From the scroll position itself: the virtualizer learns of a scroll set here one event later.
    const first = Math.floor(scroll.scrollTop / ROW_HEIGHT);
    options.onRange(first, Math.min(rows.length - 1, Math.ceil((scroll.scrollTop + scroll.clientHeight) / ROW_HEIGHT) - 1));
  };

  const virtualizer = new Virtualizer<HTMLElement, HTMLElement>({
    count: 0,
    getScrollElement: () => scroll,
    estimateSize: () => ROW_HEIGHT,
    scrollToFn: elementScroll,
    observeElementRect,
    observeElementOffset,
    overscan: 8,
    onChange: () => render(),
  });
  virtualizer._didMount();
  virtualizer._willUpdate();

  return {
    show(next, { changed, stickToTop }) {
      // The first row in view that is still there after the change keeps its place on screen.
      const top = scroll.scrollTop;
      const firstInView = Math.floor(top / ROW_HEIGHT);
      const within = top - firstInView * ROW_HEIGHT;
      const inView = Math.ceil(scroll.clientHeight / ROW_HEIGHT) + 1;
      const anchor = stickToTop && top === 0 ? undefined : rows.slice(firstInView, firstInView + inView).map((row) => row.orderId);
      // A copy: the caller's array changes in place, and the anchor above was read from this one.
      rows = [...next];
      table.setOptions((previous) => ({ ...previous, data: rows as OrderRow[] }));
      if (changed) for (const key of changed) flashing.add(key);
      virtualizer.setOptions({ ...virtualizer.options, count: next.length });
      body.style.height = `${virtualizer.getTotalSize()}px`;
      if (anchor) {
        const positions = new Map(rows.map((row, index) => [row.orderId, index]));
        for (const [offset, key] of anchor.entries()) {
          const index = positions.get(key);
          if (index === undefined) continue;
          const target = (index - offset) * ROW_HEIGHT + within;
          if (target !== top) scroll.scrollTop = target;
          break;
        }
      }
      virtualizer._willUpdate();
      render();
    },
    scrollToTop() {
      scroll.scrollTop = 0;
    },
  };
}

/**
 * The grid's behaviour: which rows it holds, when it reads a page, how live changes apply.
 *
 * - `load(settings)` starts over: it follows `ordersChanged` for the sort and filter, waits until
 *   the subscription has caught up (at most CATCH_UP_WAIT_MS), then reads the first page. A
 *   subscription that catches up only later makes it start over once more, so no change falls
 *   between the page and the subscription.
 * - Scrolling near an end of the window reads the next page from that end's cursor (`first` +
 *   `after`, or `last` + `before`); the window keeps at most `windowRows` rows and drops rows at
 *   the far end to stay there. One page read at a time.
 * - Live changes that arrive while a page is being read are applied after it. Every read sends
 *   the highest offsets the grid has seen as its consistency token, so a page (on any instance)
 *   is never older than the changes already applied.
 * - The total count is read again (at most once a second) after live changes.
 *
 * Status goes to `render` as one object: rows, counts, freshness, live state, errors.
 *
 * One unit, longer than most files: the row window, the page reads and the live changes act on
 * one state, and their order (a page read, then the changes that arrived meanwhile) is the point.
 */
import { GraphQLRequestError, type Api } from './api.ts';
import type { GridView } from './grid-view.ts';
import { follow, type ChangeEvent, type LiveFeed, type LiveState } from './live.ts';
import { decodeToken, encodeToken, mergeOffsets, type Offsets } from './offsets.ts';
import { COUNT_QUERY, PAGE_QUERY } from './queries.ts';
import { createRowWindow, type PageEdge, type PageInfo, type RowWindow } from './row-window.ts';
import { filterArgument, rowComparator, type GridFilter, type Sort } from './rows.ts';

export interface GridSettings {
  readonly sort: Sort;
  readonly filter: GridFilter;
  readonly pageSize: number;
  readonly windowRows: number;
}

export interface GridStatus {
  readonly phase: 'loading' | 'ready' | 'error';
  /** A page is being read. */
  readonly reading: boolean;
  /** Increases with every start over; unchanged while pages and live changes apply. */
  readonly generation: number;
  readonly rows: number;
  readonly hasPrevious: boolean;
  readonly hasNext: boolean;
  readonly totalCount: number | undefined;
  /** The highest applied offsets seen, and when they last advanced (epoch ms). */
  readonly offsets: Offsets;
  readonly offsetsAt: number | undefined;
  readonly live: LiveState;
  readonly liveDetail: string | undefined;
  readonly liveChanges: number;
  readonly error: string | undefined;
}

interface PageData {
  orders: { totalCount: number; pageInfo: PageInfo; edges: PageEdge[] };
}

const CATCH_UP_WAIT_MS = 5000;
const COUNT_DELAY_MS = 1000;
/** Rows from an end of the window at which the next page is read. */
const PREFETCH_ROWS = 20;
/** Reads that reads may start one after the other before the user moves the view again. */
const MAX_CHAINED_READS = 8;

export interface GridController {
  load(settings: GridSettings): void;
  /** The view reports the rows in view. */
  inView(first: number, last: number): void;
  /** The user moved the view (wheel, keys, pointer). */
  userMoved(): void;
}

export function createGridController(options: {
  api: Api;
  view: GridView;
  liveUrl: string;
  token: () => string | undefined;
  render: (status: GridStatus) => void;
}): GridController {
  const { api, view } = options;
  let settings: GridSettings | undefined;
  let held: RowWindow = createRowWindow(rowComparator({ field: 'CREATED_AT', direction: 'DESC' }));
  let generation = 0;
  let reading = false;
  let started = false;
  let queued: ChangeEvent[] = [];
  let feed: LiveFeed | undefined;
  let countTimer: ReturnType<typeof setTimeout> | undefined;
  let range = { first: 0, last: 0 };
  let chained = 0;
  const offsets: Offsets = {};
  let status: GridStatus = {
    phase: 'loading',
    reading: false,
    generation: 0,
    rows: 0,
    hasPrevious: false,
    hasNext: false,
    totalCount: undefined,
    offsets,
    offsetsAt: undefined,
    live: 'connecting',
    liveDetail: undefined,
    liveChanges: 0,
    error: undefined,
  };

  const publish = (change: Partial<GridStatus>) => {
    status = { ...status, ...change, reading, rows: held.rows.length, hasPrevious: held.hasPrevious, hasNext: held.hasNext, generation };
    options.render(status);
  };
  const seen = (extensions: { freshness?: Offsets; consistencyToken?: string } | undefined) => {
    const fromToken = extensions?.consistencyToken ? decodeToken(extensions.consistencyToken) : undefined;
    const advanced = [extensions?.freshness, fromToken].reduce((changed, more) => (more ? mergeOffsets(offsets, more) || changed : changed), false);
    if (advanced || status.offsetsAt === undefined) publish({ offsetsAt: Date.now() });
  };
  const consistency = () => (Object.keys(offsets).length > 0 ? encodeToken(offsets) : undefined);
  const failed = (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    const code = error instanceof GraphQLRequestError ? error.code : undefined;
    const hint = code === 'GW_AUTH_REQUIRED' || code === 'GW_AUTH_INVALID' ? ' (set the client token above)' : '';
    publish({ phase: 'error', error: `${code ? `${code}: ` : ''}${message}${hint}` });
  };
  const variables = (current: GridSettings) => ({
    orderBy: { field: current.sort.field, direction: current.sort.direction },
    filter: filterArgument(current.filter),
  });

  const readPage = async (direction: 'first' | 'forward' | 'backward') => {
    const current = settings!;
    const atGeneration = generation;
    const cursor = direction === 'forward' ? held.endCursor() : direction === 'backward' ? held.startCursor() : undefined;
    if (direction !== 'first' && cursor === undefined) {
      restart(); // every row with a cursor was dropped or moved: read the window again
      return;
    }
    reading = true;
    publish({});
    try {
      const paging =
        direction === 'backward' ? { last: current.pageSize, before: cursor } : { first: current.pageSize, ...(cursor ? { after: cursor } : {}) };
      const result = await api.query<PageData>(PAGE_QUERY, { ...variables(current), ...paging }, consistency());
      if (atGeneration !== generation) return;
      const { edges, pageInfo, totalCount } = result.data.orders;
      const anchorless = direction === 'first';
      let added = edges.length;
      if (direction === 'first') held.replace(edges, pageInfo);
      else if (direction === 'forward') added = held.append(edges, pageInfo);
      else added = held.prepend(edges, pageInfo);
      // Rows beyond the view are dropped only as far as a page plus the read margin from it, so
      // the end just trimmed is not read again until the view has moved a page towards it.
      const excess = held.rows.length - current.windowRows;
      const keep = PREFETCH_ROWS + current.pageSize;
      if (excess > 0 && direction === 'forward') held.trimStart(Math.min(excess, Math.max(0, range.first - keep)));
      if (excess > 0 && direction === 'backward') held.trimEnd(Math.min(excess, Math.max(0, held.rows.length - (range.last + added) - 1 - keep)));
      seen(result.extensions);
      reading = false;
      const changed = applyQueued();
      if (anchorless) view.scrollToTop();
      view.show(held.rows, { changed, stickToTop: !held.hasPrevious });
      publish({ phase: 'ready', totalCount, error: undefined });
      // A page that brought no new row does not read on by itself (the next scroll does).
      if (added > 0 && chained < MAX_CHAINED_READS) {
        chained += 1;
        checkRange();
      }
    } catch (error) {
      if (atGeneration === generation) {
        reading = false;
        failed(error);
      }
    }
  };

  /** Applies live changes; returns the keys of rows that changed in the window. */
  const apply = (events: readonly ChangeEvent[]): Set<string> => {
    const changed = new Set<string>();
    for (const event of events) {
      if (!event.key) continue;
      const inWindow = event.kind === 'UPSERT' && event.node ? held.upsert(event.node) : held.remove(event.key);
      if (inWindow && event.kind === 'UPSERT') changed.add(event.key);
    }
    return changed;
  };
  const applyQueued = (): Set<string> => {
    const events = queued;
    queued = [];
    return apply(events);
  };

  /** Reads the count once COUNT_DELAY_MS after the first change since the last read. */
  const refreshCount = () => {
    if (countTimer !== undefined) return;
    const current = settings!;
    const atGeneration = generation;
    countTimer = setTimeout(() => {
      countTimer = undefined;
      api
        .query<{ orders: { totalCount: number } }>(COUNT_QUERY, { filter: filterArgument(current.filter) }, consistency())
        .then((result) => {
          if (atGeneration !== generation) return;
          seen(result.extensions);
          publish({ totalCount: result.data.orders.totalCount });
        })
        .catch(() => undefined); // the next change tries again; page reads report errors
    }, COUNT_DELAY_MS);
  };

  const onChange = (event: ChangeEvent) => {
    const token = decodeToken(event.token);
    if (token && mergeOffsets(offsets, token)) status = { ...status, offsetsAt: Date.now() };
    if (reading || !started) {
      queued.push(event);
      return;
    }
    const changed = apply([event]);
    view.show(held.rows, { changed, stickToTop: !held.hasPrevious });
    publish({ liveChanges: status.liveChanges + 1 });
    refreshCount();
  };

  function checkRange(): void {
    if (reading || !started) return;
    if (held.hasNext && range.last >= held.rows.length - 1 - PREFETCH_ROWS) void readPage('forward');
    else if (held.hasPrevious && range.first <= PREFETCH_ROWS) void readPage('backward');
  }

  function restart(): void {
    if (settings) load(settings);
  }

  function load(next: GridSettings): void {
    settings = next;
    chained = 0;
    generation += 1;
    const atGeneration = generation;
    feed?.stop();
    clearTimeout(countTimer);
    countTimer = undefined;
    held = createRowWindow(rowComparator(next.sort));
    queued = [];
    reading = false;
    started = false;
    view.show(held.rows, { stickToTop: true });
    publish({ phase: 'loading', totalCount: undefined, error: undefined, live: 'connecting', liveDetail: undefined, liveChanges: 0 });

    let caughtUp = false;
    const begin = () => {
      if (started || atGeneration !== generation) return;
      started = true;
      void readPage('first');
    };
    const wait = setTimeout(begin, CATCH_UP_WAIT_MS);
    feed = follow(
      { url: options.liveUrl, token: options.token, variables: variables(next) },
      {
        onCaughtUp: (resumed) => {
          if (atGeneration !== generation) return;
          if (!caughtUp && !resumed && started) {
            restart(); // caught up after the first page was read without it: read it again
            return;
          }
          caughtUp = true;
          clearTimeout(wait);
          begin();
        },
        onChange: (event) => {
          if (atGeneration === generation) onChange(event);
        },
        onLost: () => {
          if (atGeneration === generation) restart();
        },
        onState: (live, detail) => {
          if (atGeneration === generation) publish({ live, liveDetail: detail });
        },
      },
    );
  }

  return {
    load,
    userMoved() {
      chained = 0;
    },
    inView(first, last) {
      range = { first, last };
      checkRange();
    },
  };
}

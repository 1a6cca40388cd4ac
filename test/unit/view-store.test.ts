import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { countRows, existsBeyondCursor, readPage, readPages, type Filter, type PageRequest, type Value } from '../../src/query/page.ts';
import { plan } from '../../src/query/plan.ts';
import { attachKeyValueStore, openKeyValueStore, type KeyValueStore, type WriteNote } from '../../src/store/rocks.ts';
import { decodeTuple, encodeTuple, prefixEnd, type TupleElement } from '../../src/store/tuple.ts';
import { layoutFingerprint, sortElement } from '../../src/store/keys.ts';
import type { Scan } from '../../src/store/scans.ts';
import { openViewStore, type Row, type RowChange, type ScanEntry, type ScanSpec, type ViewStore } from '../../src/store/view-store.ts';
import type { ViewDeclaration } from '../../src/views/declaration.ts';
import { compileViews, type ViewModel } from '../../src/views/model.ts';
import customers from '../../views/customers.ts';
import orders from '../../views/orders.ts';
import payments from '../../views/payments.ts';
import { prng } from '../support/prng.ts';

// ---------------------------------------------------------------------------------------------
// Model, data and reference implementation (independent of src/query).

function compile(ordersDeclaration: ViewDeclaration = orders): { orders: ViewModel; customers: ViewModel } {
  const views = compileViews([ordersDeclaration, customers, payments]);
  return { orders: views[0]!, customers: views[1]! };
}
const ORDERS = compile().orders;
const PARTITIONS = [0, 1, 2] as const;
const STATES = ['CREATED', 'VALIDATED', 'FAILED', 'SHIPPED', 'CANCELLED'] as const;
const CURRENCIES = ['EUR', 'USD', 'GBP'] as const;
const PRODUCTS = ['Widget', 'Gadget', 'Gizmo', 'Doohickey'] as const;

interface Stored {
  readonly partition: number;
  readonly key: string;
  row: Row;
}

const BASE_TIME = Date.parse('2026-01-01T00:00:00.000Z');
const at = (minutes: number): string => new Date(BASE_TIME + minutes * 60_000).toISOString();
// Keys share prefixes and differ in characters whose UTF-16 and UTF-8 orders disagree
// ('\uFFFF' < '😀' in UTF-8, the opposite in UTF-16 code units).
const SUFFIXES = ['', 'é', '😀', '\uFFFF'] as const;

function pick<T>(random: () => number, list: readonly T[]): T {
  return list[Math.floor(random() * list.length)]!;
}

function makeRow(random: () => number, key: string): Row {
  const created = Math.floor(random() * 60) * 7; // 60 distinct values: many ties
  return {
    orderId: key,
    customerId: `c-${Math.floor(random() * 12)}`,
    state: pick(random, STATES),
    product: pick(random, PRODUCTS),
    quantity: 1 + Math.floor(random() * 9),
    unitPrice: Math.round(random() * 10_000) / 100,
    currency: pick(random, CURRENCIES),
    createdAt: at(created),
    updatedAt: at(created + Math.floor(random() * 4) * 30),
  };
}

function generate(seed: number, count: number): Map<string, Stored> {
  const random = prng(seed);
  const rows = new Map<string, Stored>();
  for (let i = 0; i < count; i++) {
    const key = `o-${Math.floor(i / SUFFIXES.length)}${SUFFIXES[i % SUFFIXES.length]}`;
    rows.set(key, { partition: Math.floor(random() * PARTITIONS.length), key, row: makeRow(random, key) });
  }
  return rows;
}

function compareRef(a: Value, b: Value): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return Buffer.compare(Buffer.from(String(a), 'utf8'), Buffer.from(String(b), 'utf8'));
}

function comparePosition(a: readonly [Value, string], b: readonly [Value, string]): number {
  return compareRef(a[0], b[0]) || compareRef(a[1], b[1]);
}

function refMatches(row: Row, filter: Filter): boolean {
  for (const condition of filter.equals) if (!condition.values.includes(row[condition.field] as Value)) return false;
  for (const range of filter.ranges) {
    const value = row[range.field] as Value;
    if (range.lower) {
      const order = compareRef(value, range.lower.value);
      if (order < 0 || (order === 0 && !range.lower.inclusive)) return false;
    }
    if (range.upper) {
      const order = compareRef(value, range.upper.value);
      if (order > 0 || (order === 0 && !range.upper.inclusive)) return false;
    }
  }
  return true;
}

interface PageShape {
  rows: Array<{ key: string; sortValue: Value; partition: number; row: Row }>;
  more: boolean;
}

const position = (stored: Stored, sortField: string): [Value, string] => [stored.row[sortField] as Value, stored.key];

/** All matching rows in the request's display order (ASC or DESC). */
function refOrdered(
  data: Iterable<Stored>,
  sortField: string,
  descending: boolean,
  filter: Filter,
  partitions: readonly number[] = PARTITIONS,
): Stored[] {
  const matching = [...data]
    .filter((stored) => partitions.includes(stored.partition) && refMatches(stored.row, filter))
    .map((stored) => {
      const sortValue = stored.row[sortField] as Value;
      // strings compare by their UTF-8 bytes; encode once per row, not once per comparison
      return { stored, sortValue: typeof sortValue === 'number' ? sortValue : Buffer.from(sortValue, 'utf8'), key: Buffer.from(stored.key, 'utf8') };
    });
  matching.sort((a, b) => {
    const bySort =
      typeof a.sortValue === 'number' && typeof b.sortValue === 'number'
        ? a.sortValue - b.sortValue
        : Buffer.compare(a.sortValue as Buffer, b.sortValue as Buffer);
    return bySort || Buffer.compare(a.key, b.key);
  });
  if (descending) matching.reverse();
  return matching.map((entry) => entry.stored);
}

function refPage(data: Iterable<Stored>, request: PageRequest, partitions: readonly number[] = PARTITIONS): PageShape {
  const ordered = refOrdered(data, request.sortField, request.descending, request.filter, partitions);
  const direction = request.descending ? -1 : 1;
  const cursor = request.cursor;
  const candidates = cursor
    ? ordered.filter((stored) => {
        const order = comparePosition(position(stored, request.sortField), cursor) * direction;
        return request.backward ? order < 0 : order > 0;
      })
    : ordered;
  const page = request.backward ? candidates.slice(Math.max(0, candidates.length - request.limit)) : candidates.slice(0, request.limit);
  return {
    rows: page.map((stored) => ({
      key: stored.key,
      sortValue: stored.row[request.sortField] as Value,
      partition: stored.partition,
      row: stored.row,
    })),
    more: candidates.length > request.limit,
  };
}

function page(store: ViewStore, request: PageRequest, partitions: readonly number[] = PARTITIONS): PageShape {
  const session = store.session();
  try {
    const result = readPage(store, session, partitions, request);
    return { rows: result.rows.map((row) => ({ ...row })), more: result.more };
  } finally {
    session.close();
  }
}

function count(store: ViewStore, filter: Filter, partitions: readonly number[] = PARTITIONS): number {
  const session = store.session();
  try {
    return countRows(store, session, partitions, filter);
  } finally {
    session.close();
  }
}

const NONE: Filter = { equals: [], ranges: [] };

/**
 * Pages through `first` with cursors until no more rows: every page equals the reference, and the
 * pages together hold every matching row once, in order.
 */
function expectCursorWalk(store: ViewStore, data: Map<string, Stored>, name: string, first: PageRequest): void {
  const { sortField, descending, backward, filter } = first;
  const label = `${name} by ${sortField} ${descending ? 'DESC' : 'ASC'} ${backward ? 'backwards' : 'forwards'}`;
  const seen: string[][] = [];
  let cursor: readonly [Value, string] | undefined;
  for (let pages = 0; pages < 100; pages++) {
    const req = { ...first, cursor };
    const result = page(store, req);
    expect(result, `${label} page ${pages}`).toEqual(refPage(data.values(), req));
    seen.push(result.rows.map((row) => row.key));
    if (!result.more) break;
    const edge = backward ? result.rows[0]! : result.rows[result.rows.length - 1]!;
    cursor = [edge.sortValue, edge.key];
  }
  const all = refOrdered(data.values(), sortField, descending, filter).map((stored) => stored.key);
  expect((backward ? seen.reverse() : seen).flat(), label).toEqual(all);
}

function request(sortField: string, options: Partial<PageRequest> = {}): PageRequest {
  return { sortField, descending: false, filter: NONE, limit: 10, backward: false, cursor: undefined, ...options };
}

/** Applies rows per partition in batches of 40, offsets counting up per partition. */
const offsets = new Map<number, number>();
function applyAll(store: ViewStore, changes: Iterable<{ partition: number; key: string; row: Row | null }>): void {
  const byPartition = new Map<number, RowChange[]>();
  for (const change of changes) {
    const list = byPartition.get(change.partition) ?? [];
    list.push({ key: change.key, row: change.row });
    byPartition.set(change.partition, list);
  }
  for (const [partition, list] of byPartition) {
    for (let i = 0; i < list.length; i += 40) {
      const chunk = list.slice(i, i + 40);
      const next = (offsets.get(partition) ?? 0) + chunk.length;
      offsets.set(partition, next);
      store.apply(partition, chunk, String(next));
    }
  }
}

/** Every key under a tuple prefix, decoded. */
function scanPrefix(kv: KeyValueStore, elements: TupleElement[]): TupleElement[][] {
  const prefix = encodeTuple(elements);
  const reader = kv.range({ gte: prefix, lt: prefixEnd(prefix) });
  const out: TupleElement[][] = [];
  try {
    for (let batch = reader.next(1000); batch.length > 0; batch = reader.next(1000)) {
      for (const [key] of batch) out.push(decodeTuple(key));
    }
  } finally {
    reader.close();
  }
  return out;
}

/** The exact index entries the data implies, as JSON strings for set comparison. */
function expectedIndexEntries(view: ViewModel, data: Iterable<Stored>): string[] {
  const out: string[] = [];
  for (const stored of data) {
    for (const index of view.indexes) {
      const elements: TupleElement[] = ['i', view.id, stored.partition, index.id];
      for (const filter of index.filters) elements.push(stored.row[filter] as TupleElement);
      elements.push(stored.row[index.sort] as TupleElement, stored.key);
      out.push(JSON.stringify(elements));
    }
  }
  return out.sort();
}

function actualIndexEntries(kv: KeyValueStore, view: ViewModel): string[] {
  return scanPrefix(kv, ['i', view.id])
    .map((entry) => JSON.stringify(entry))
    .sort();
}

function expectConsistent(kv: KeyValueStore, store: ViewStore, data: Map<string, Stored>): void {
  expect(actualIndexEntries(kv, store.view)).toEqual(expectedIndexEntries(store.view, data.values()));
  const rows = scanPrefix(kv, ['r', store.view.id])
    .map(([, , partition, key]) => `${String(partition)}/${String(key)}`)
    .sort();
  expect(rows).toEqual([...data.values()].map((stored) => `${stored.partition}/${stored.key}`).sort());
  for (const partition of PARTITIONS) {
    const inPartition = [...data.values()].filter((stored) => stored.partition === partition);
    expect(store.count(partition)).toBe(inPartition.length);
    for (const field of store.view.filters) {
      const values = new Set(inPartition.map((stored) => stored.row[field] as Value));
      if (!store.view.countedFilters.includes(field)) {
        // id-typed filters keep no counters
        for (const value of values) expect(store.count(partition, new Map([[field, value]]))).toBeUndefined();
        continue;
      }
      for (const value of values) {
        expect(store.count(partition, new Map([[field, value]])), `${partition} ${field}=${value}`).toBe(
          inPartition.filter((stored) => stored.row[field] === value).length,
        );
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------

let dir: string;
let kv: KeyValueStore | undefined;

async function reopenKv(): Promise<KeyValueStore> {
  if (kv) await kv.close();
  kv = await openKeyValueStore(dir, { cacheSize: 4 << 20 });
  return kv;
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gw-view-store-'));
  kv = await openKeyValueStore(dir, { cacheSize: 4 << 20 });
  offsets.clear();
});

afterEach(async () => {
  if (kv) await kv.close();
  kv = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function loaded(seed = 1, size = 300): Promise<{ store: ViewStore; data: Map<string, Stored>; kv: KeyValueStore }> {
  const store = await openViewStore(kv!, ORDERS);
  const data = generate(seed, size);
  applyAll(store, data.values());
  return { store, data, kv: kv! };
}

const FILTERS: Array<[string, Filter]> = [
  ['no filter', NONE],
  ['state = SHIPPED', { equals: [{ field: 'state', values: ['SHIPPED'] }], ranges: [] }],
  ['state in (CREATED, FAILED)', { equals: [{ field: 'state', values: ['CREATED', 'FAILED'] }], ranges: [] }],
  ['state in with a duplicate and an absent value', { equals: [{ field: 'state', values: ['VALIDATED', 'VALIDATED', 'LOST'] }], ranges: [] }],
  ['customerId = c-3', { equals: [{ field: 'customerId', values: ['c-3'] }], ranges: [] }],
  [
    'state = CREATED and currency = EUR (residual)',
    {
      equals: [
        { field: 'state', values: ['CREATED'] },
        { field: 'currency', values: ['EUR'] },
      ],
      ranges: [],
    },
  ],
  [
    'createdAt in [at(70), at(280))',
    { equals: [], ranges: [{ field: 'createdAt', lower: { value: at(70), inclusive: true }, upper: { value: at(280), inclusive: false } }] },
  ],
  [
    'createdAt in (at(70), at(280)]',
    { equals: [], ranges: [{ field: 'createdAt', lower: { value: at(70), inclusive: false }, upper: { value: at(280), inclusive: true } }] },
  ],
  [
    'state in (SHIPPED, CANCELLED) and createdAt >= at(140)',
    {
      equals: [{ field: 'state', values: ['SHIPPED', 'CANCELLED'] }],
      ranges: [{ field: 'createdAt', lower: { value: at(140), inclusive: true } }],
    },
  ],
  ['product = Gizmo (not indexed)', { equals: [{ field: 'product', values: ['Gizmo'] }], ranges: [] }],
  [
    'quantity in [3, 6] (range on a non-sort field)',
    { equals: [], ranges: [{ field: 'quantity', lower: { value: 3, inclusive: true }, upper: { value: 6, inclusive: true } }] },
  ],
  ['orderId < o-40 (range on the key)', { equals: [], ranges: [{ field: 'orderId', upper: { value: 'o-40', inclusive: false } }] }],
  ['empty in list', { equals: [{ field: 'state', values: [] }], ranges: [] }],
];

describe('readPage against a reference over ~300 rows in 3 partitions', () => {
  it('first pages equal the reference for every sort field, direction and filter', async () => {
    const { store, data } = await loaded();
    for (const [name, filter] of FILTERS) {
      for (const sortField of ORDERS.sortFields) {
        for (const descending of [false, true]) {
          for (const backward of [false, true]) {
            for (const limit of [0, 1, 13, 400]) {
              const req = request(sortField, { filter, descending, backward, limit });
              expect(page(store, req), `${name} by ${sortField} ${descending ? 'DESC' : 'ASC'} ${backward ? 'last' : 'first'} ${limit}`).toEqual(
                refPage(data.values(), req),
              );
            }
          }
        }
      }
    }
  });

  it('cursors walk every filter and order completely, forwards and backwards', async () => {
    const { store, data } = await loaded();
    for (const [name, filter] of FILTERS) {
      for (const sortField of ORDERS.sortFields) {
        for (const descending of [false, true]) {
          for (const backward of [false, true]) expectCursorWalk(store, data, name, request(sortField, { filter, descending, backward, limit: 17 }));
        }
      }
    }
  });

  it('a cursor stays a position after its row is deleted or moved', async () => {
    const { store, data } = await loaded(2);
    const first = page(store, request('createdAt', { limit: 25 }));
    const last = first.rows[first.rows.length - 1]!;
    const cursor: [Value, string] = [last.sortValue, last.key];
    // delete the cursor's row and move the next one to the end
    const following = refPage(data.values(), request('createdAt', { limit: 1, cursor })).rows[0]!;
    const moved = { ...data.get(following.key)!.row, createdAt: at(100_000) };
    applyAll(store, [
      { partition: data.get(last.key)!.partition, key: last.key, row: null },
      { partition: following.partition, key: following.key, row: moved },
    ]);
    data.delete(last.key);
    data.get(following.key)!.row = moved;
    for (const backward of [false, true]) {
      const req = request('createdAt', { limit: 30, cursor, backward });
      expect(page(store, req)).toEqual(refPage(data.values(), req));
    }
  });

  it('readPages returns one reference page per request', async () => {
    const { store, data } = await loaded(19);
    const requests = ['c-1', 'c-2', 'c-3', 'c-404'].flatMap((customerId) => [
      request('createdAt', { limit: 4, filter: { equals: [{ field: 'customerId', values: [customerId] }], ranges: [] } }),
      request('updatedAt', {
        limit: 3,
        descending: true,
        backward: true,
        filter: {
          equals: [
            { field: 'customerId', values: [customerId] },
            { field: 'currency', values: ['EUR'] },
          ],
          ranges: [],
        },
      }),
    ]);
    const session = store.session();
    try {
      const results = readPages(store, session, PARTITIONS, requests);
      expect(results.map((result) => ({ rows: result.rows.map((row) => ({ ...row })), more: result.more }))).toEqual(
        requests.map((req) => refPage(data.values(), req)),
      );
    } finally {
      session.close();
    }
  });

  it('reads only the requested partitions', async () => {
    const { store, data } = await loaded(3);
    for (const partitions of [[1], [0, 2], []] as const) {
      const req = request('updatedAt', { descending: true, limit: 50, filter: { equals: [{ field: 'currency', values: ['USD'] }], ranges: [] } });
      expect(page(store, req, partitions)).toEqual(refPage(data.values(), req, partitions));
    }
  });

  it('a residual filter reads about the index entries the page needs, not a multiple of them', async () => {
    const { store, data, kv } = await loaded(5, 3000);
    const driver = { field: 'state', values: ['CANCELLED'] };
    const filter: Filter = { equals: [driver, { field: 'currency', values: ['GBP'] }], ranges: [] };
    for (const descending of [false, true]) {
      for (const limit of [10, 40, 100]) {
        const req = request('createdAt', { filter, descending, limit });
        // The state index drives the scan; the reference tells how deep in it the page's last
        // match (limit + 1, for hasNextPage) lies: no scan can read fewer entries.
        let needed = 0;
        let matches = 0;
        for (const stored of refOrdered(data.values(), 'createdAt', descending, { equals: [driver], ranges: [] })) {
          needed++;
          if (refMatches(stored.row, filter) && ++matches === limit + 1) break;
        }
        const before = kv.stats.entriesRead;
        expect(page(store, req)).toEqual(refPage(data.values(), req));
        const scanned = kv.stats.entriesRead - before - limit; // the page's rows are read by key
        expect(scanned).toBeGreaterThanOrEqual(needed);
        // A fifth more than the even share per partition, plus a few entries each (reads in fixed
        // steps of candidates, doubling per partition, would read up to 2.6 times `needed`).
        expect(scanned, `${limit} ${descending ? 'DESC' : 'ASC'}`).toBeLessThanOrEqual(needed * 1.35 + 8 * PARTITIONS.length);
      }
    }
  });

  it('one session serves many pages, including re-reading after a scan reached the end', async () => {
    const { store, data } = await loaded(4);
    const session = store.session();
    try {
      for (let round = 0; round < 3; round++) {
        for (const descending of [false, true]) {
          const req = request('createdAt', { limit: 1000, descending });
          const result = readPage(store, session, PARTITIONS, req);
          expect(result.rows.map((row) => row.key)).toEqual(refPage(data.values(), req).rows.map((row) => row.key));
          const small = request('createdAt', { limit: 5, descending, cursor: [at(140), 'o-5'] });
          expect(readPage(store, session, PARTITIONS, small).rows.map((row) => row.key)).toEqual(
            refPage(data.values(), small).rows.map((row) => row.key),
          );
        }
      }
    } finally {
      session.close();
    }
  });
});

describe('declared indexes', () => {
  // The reference orders view plus combinations a grid filters on together, a plain string filter
  // alone, and an id filter paired with an enum.
  const DECLARED: ViewModel = compile({ ...orders, indexes: [['state', 'currency'], ['currency'], ['customerId', 'state']] }).orders;
  const eq = (field: string, ...values: Value[]) => ({ field, values });
  const PAIR_FILTERS: Array<[string, Filter]> = [
    ...FILTERS,
    ['state = CANCELLED and currency = GBP', { equals: [eq('state', 'CANCELLED'), eq('currency', 'GBP')], ranges: [] }],
    ['currency = EUR and state = SHIPPED (other order)', { equals: [eq('currency', 'EUR'), eq('state', 'SHIPPED')], ranges: [] }],
    ['state in 2 and currency in 2', { equals: [eq('state', 'SHIPPED', 'CANCELLED'), eq('currency', 'EUR', 'GBP', 'EUR')], ranges: [] }],
    ['currency = USD', { equals: [eq('currency', 'USD')], ranges: [] }],
    ['currency = JPY (absent)', { equals: [eq('currency', 'JPY')], ranges: [] }],
    [
      'currency and a createdAt range',
      {
        equals: [eq('currency', 'EUR', 'USD')],
        ranges: [{ field: 'createdAt', lower: { value: at(70), inclusive: false }, upper: { value: at(300), inclusive: true } }],
      },
    ],
    ['customerId and state', { equals: [eq('customerId', 'c-3', 'c-5'), eq('state', 'CREATED', 'SHIPPED')], ranges: [] }],
    ['state, currency and customerId', { equals: [eq('state', 'SHIPPED'), eq('currency', 'EUR'), eq('customerId', 'c-1', 'c-2')], ranges: [] }],
    [
      'two conditions on state and currency',
      { equals: [eq('state', 'SHIPPED', 'FAILED'), eq('currency', 'GBP'), eq('state', 'FAILED')], ranges: [] },
    ],
    ['currency and product (residual on the rows)', { equals: [eq('currency', 'GBP'), eq('product', 'Gizmo')], ranges: [] }],
  ];

  async function loadedDeclared(seed: number, size = 300): Promise<{ store: ViewStore; data: Map<string, Stored>; kv: KeyValueStore }> {
    const store = await openViewStore(kv!, DECLARED);
    const data = generate(seed, size);
    applyAll(store, data.values());
    return { store, data, kv: kv! };
  }

  it('come after the automatic indexes, one per declared sort key, and change no existing index', () => {
    expect(DECLARED.indexes.slice(0, ORDERS.indexes.length)).toEqual(ORDERS.indexes);
    expect(DECLARED.indexes.slice(ORDERS.indexes.length).map(({ filters, sort }) => `${filters.join('+')}/${sort}`)).toEqual([
      'state+currency/createdAt',
      'state+currency/updatedAt',
      'currency/createdAt',
      'currency/updatedAt',
      'customerId+state/createdAt',
      'customerId+state/updatedAt',
    ]);
  });

  it('pages equal the reference for every filter, order and direction, and cursors walk them completely', async () => {
    const { store, data } = await loadedDeclared(21);
    for (const [name, filter] of PAIR_FILTERS) {
      for (const sortField of DECLARED.sortFields) {
        for (const descending of [false, true]) {
          for (const backward of [false, true]) {
            for (const limit of [0, 1, 13]) {
              const req = request(sortField, { filter, descending, backward, limit });
              expect(page(store, req), `${name} by ${sortField} ${descending} ${backward} ${limit}`).toEqual(refPage(data.values(), req));
            }
            expectCursorWalk(store, data, name, request(sortField, { filter, descending, backward, limit: 7 }));
          }
        }
      }
      expect(count(store, filter), `count ${name}`).toBe(refOrdered(data.values(), 'orderId', false, filter).length);
    }
  });

  it('the planner drives with the combination, and not beyond 64 value combinations', async () => {
    const { store, data } = await loadedDeclared(25);
    const drivenBy = (filter: Filter, sort = 'createdAt') => plan(store, [...PARTITIONS], filter, sort).index?.filters.join('+');
    expect(drivenBy({ equals: [eq('currency', 'GBP'), eq('state', 'CANCELLED')], ranges: [] })).toBe('state+currency');
    expect(drivenBy({ equals: [eq('currency', 'GBP')], ranges: [] }, 'updatedAt')).toBe('currency');
    // An id condition counts as the most selective; its combination with state goes first.
    expect(drivenBy({ equals: [eq('state', 'SHIPPED'), eq('customerId', 'c-1')], ranges: [] })).toBe('customerId+state');
    // The key order has no declared index: the id filter's own index drives it.
    expect(drivenBy({ equals: [eq('state', 'SHIPPED'), eq('customerId', 'c-1')], ranges: [] }, 'orderId')).toBe('customerId');
    // 5 states x 13 currencies: 65 combinations, so a single field's index drives the page.
    const currencies = [...CURRENCIES, ...Array.from({ length: 10 }, (_, i) => `X${i}`)];
    const wide: Filter = { equals: [eq('state', ...STATES), eq('currency', ...currencies)], ranges: [] };
    expect(drivenBy(wide)?.includes('+')).toBe(false);
    const narrower: Filter = { equals: [eq('state', ...STATES), eq('currency', ...currencies.slice(0, 12))], ranges: [] };
    expect(drivenBy(narrower)).toBe('state+currency');
    for (const filter of [wide, narrower]) {
      const req = request('createdAt', { filter, descending: true, limit: 30 });
      expect(page(store, req)).toEqual(refPage(data.values(), req));
    }
  });

  it('a pair filter reads about the entries its page needs from its own index', async () => {
    const { store, data, kv: db } = await loadedDeclared(22, 3000);
    const filter: Filter = { equals: [eq('state', 'CANCELLED'), eq('currency', 'GBP')], ranges: [] };
    for (const descending of [false, true]) {
      for (const limit of [10, 40]) {
        const req = request('createdAt', { filter, descending, limit });
        const before = db.stats.entriesRead;
        expect(page(store, req)).toEqual(refPage(data.values(), req));
        const scanned = db.stats.entriesRead - before - limit; // the page's rows are read by key
        // Every entry of the index matches: each partition reads its share and a fifth more.
        expect(scanned, `${limit} ${descending ? 'DESC' : 'ASC'}`).toBeLessThanOrEqual((limit + 1) * 1.35 + 3 * PARTITIONS.length);
      }
    }
  });

  it('writes keep every entry of the declared indexes exact through updates and tombstones', async () => {
    const { store, data, kv: db } = await loadedDeclared(23);
    const random = prng(24);
    for (let round = 0; round < 4; round++) {
      const changes: Array<{ partition: number; key: string; row: Row | null }> = [];
      for (const stored of [...data.values()].filter(() => random() < 0.3)) {
        if (random() < 0.2) {
          changes.push({ partition: stored.partition, key: stored.key, row: null });
          data.delete(stored.key);
          continue;
        }
        // Moves in one, both or neither of a pair's fields, and in the sort keys.
        const row = { ...stored.row };
        if (random() < 0.5) row.state = pick(random, STATES);
        if (random() < 0.5) row.currency = pick(random, CURRENCIES);
        if (random() < 0.3) row.updatedAt = at(1000 + round);
        stored.row = row;
        changes.push({ partition: stored.partition, key: stored.key, row });
      }
      applyAll(store, changes);
      expectConsistent(db, store, data);
    }
    const req = request('updatedAt', { descending: true, limit: 400, filter: PAIR_FILTERS.find(([name]) => name.startsWith('state in 2'))![1] });
    expect(page(store, req)).toEqual(refPage(data.values(), req));
  });
});

describe('existsBeyondCursor', () => {
  function beyond(store: ViewStore, req: PageRequest): boolean {
    const session = store.session();
    try {
      return existsBeyondCursor(store, session, PARTITIONS, req);
    } finally {
      session.close();
    }
  }

  /** Reference: a matching row at the cursor or on the side opposite to the reading direction. */
  function refBeyond(data: Map<string, Stored>, req: PageRequest): boolean {
    if (!req.cursor) return false;
    const direction = req.descending ? -1 : 1;
    return [...data.values()].some((stored) => {
      if (!refMatches(stored.row, req.filter)) return false;
      const order = comparePosition(position(stored, req.sortField), req.cursor!) * direction;
      return req.backward ? order >= 0 : order <= 0;
    });
  }

  it('is right at both ends and in the middle, for every order and direction', async () => {
    const { store, data } = await loaded(5);
    const filters: Filter[] = [NONE, { equals: [{ field: 'state', values: ['FAILED'] }], ranges: [] }];
    for (const filter of filters) {
      for (const sortField of ['createdAt', 'orderId']) {
        for (const descending of [false, true]) {
          const ordered = refOrdered(data.values(), sortField, descending, filter);
          const firstRow = ordered[0]!;
          const lastRow = ordered[ordered.length - 1]!;
          const middle = ordered[Math.floor(ordered.length / 2)]!;
          const low: [Value, string] = ['', ''];
          const high: [Value, string] = ['\uFFFF', '\uFFFF'];
          const cursors: Array<[string, readonly [Value, string]]> = [
            ['first row', position(firstRow, sortField)],
            ['last row', position(lastRow, sortField)],
            ['middle row', position(middle, sortField)],
            ['before everything', descending ? high : low],
            ['after everything', descending ? low : high],
          ];
          for (const [name, cursor] of cursors) {
            for (const backward of [false, true]) {
              const req = request(sortField, { filter, descending, backward, cursor });
              const label = `${name} ${sortField} ${descending ? 'DESC' : 'ASC'} ${backward ? 'backward' : 'forward'}`;
              expect(beyond(store, req), label).toBe(refBeyond(data, req));
            }
          }
          // The ends themselves, spelled out: forwards from before the first row nothing lies behind,
          // backwards from after the last row nothing lies ahead; at the first/last row its own row counts.
          expect(beyond(store, request(sortField, { filter, descending, cursor: descending ? high : low }))).toBe(false);
          expect(beyond(store, request(sortField, { filter, descending, backward: true, cursor: descending ? low : high }))).toBe(false);
          expect(beyond(store, request(sortField, { filter, descending, cursor: position(firstRow, sortField) }))).toBe(true);
          expect(beyond(store, request(sortField, { filter, descending, backward: true, cursor: position(lastRow, sortField) }))).toBe(true);
        }
      }
    }
    expect(beyond(store, request('createdAt'))).toBe(false);
  });
});

describe('counts', () => {
  const COUNT_FILTERS: Array<[string, Filter]> = [
    ...FILTERS,
    ['state in (CREATED, CREATED)', { equals: [{ field: 'state', values: ['CREATED', 'CREATED'] }], ranges: [] }],
    [
      'state and currency and customerId',
      {
        equals: [
          { field: 'state', values: ['CREATED', 'SHIPPED'] },
          { field: 'currency', values: ['EUR', 'GBP'] },
          { field: 'customerId', values: ['c-1', 'c-2', 'c-3', 'c-4'] },
        ],
        ranges: [],
      },
    ],
    [
      'updatedAt range and customerId',
      { equals: [{ field: 'customerId', values: ['c-7'] }], ranges: [{ field: 'updatedAt', upper: { value: at(200), inclusive: true } }] },
    ],
  ];

  it('countRows equals the reference for every filter', async () => {
    const { store, data } = await loaded(6);
    for (const [name, filter] of COUNT_FILTERS) {
      expect(count(store, filter), name).toBe(refOrdered(data.values(), 'orderId', false, filter).length);
      expect(count(store, filter, [2]), `${name} in partition 2`).toBe(refOrdered(data.values(), 'orderId', false, filter, [2]).length);
    }
  });

  it('per-partition counters equal the reference', async () => {
    const { store, data, kv: db } = await loaded(7);
    expectConsistent(db, store, data);
    for (const partition of PARTITIONS) expect(store.count(partition, new Map([['state', 'LOST']]))).toBe(0);
    expect(store.count(7)).toBe(0);
  });
});

describe('writes', () => {
  it('stores every index entry and nothing else after the inserts', async () => {
    const { store, data, kv: db } = await loaded(8);
    expectConsistent(db, store, data);
    expect(actualIndexEntries(db, ORDERS)).toHaveLength(300 * ORDERS.indexes.length);
    const sample = [...data.values()].slice(0, 20);
    expect(store.getRows(sample.map(({ partition, key }) => ({ partition, key })))).toEqual(sample.map((stored) => stored.row));
    // a row is only found in its own partition
    expect(store.getRows([{ partition: (sample[0]!.partition + 1) % 3, key: sample[0]!.key }])).toEqual([undefined]);
  });

  it('an update moves the row in the createdAt/updatedAt indexes and moves its state counter', async () => {
    const { store, data, kv: db } = await loaded(9);
    const target = [...data.values()].find((stored) => stored.row.state === 'CREATED')!;
    const before = { ...target.row };
    const stateCount = (state: string): number | undefined => store.count(target.partition, new Map([['state', state]]));
    const createdBefore = stateCount('CREATED');
    const shippedBefore = stateCount('SHIPPED');
    const updated = { ...before, state: 'SHIPPED', createdAt: at(-5), updatedAt: at(9000) };
    expect(store.apply(target.partition, [{ key: target.key, row: updated }], '9999')).toMatchObject({ upserts: 1, deletes: 0 });
    target.row = updated;

    const entries = actualIndexEntries(db, ORDERS).map((entry) => JSON.parse(entry) as TupleElement[]);
    const forKey = entries.filter((entry) => entry[entry.length - 1] === target.key);
    expect(forKey).toHaveLength(ORDERS.indexes.length);
    const createdIndex = ORDERS.indexes.find((index) => index.filters.length === 0 && index.sort === 'createdAt')!;
    const updatedIndex = ORDERS.indexes.find((index) => index.filters.length === 0 && index.sort === 'updatedAt')!;
    expect(forKey).toContainEqual(['i', 'orders', target.partition, createdIndex.id, at(-5), target.key]);
    expect(forKey).toContainEqual(['i', 'orders', target.partition, updatedIndex.id, at(9000), target.key]);
    expect(forKey).not.toContainEqual(['i', 'orders', target.partition, createdIndex.id, before.createdAt, target.key]);
    expect(forKey).not.toContainEqual(['i', 'orders', target.partition, updatedIndex.id, before.updatedAt, target.key]);
    expect(forKey.some((entry) => entry.includes('CREATED'))).toBe(false);
    expectConsistent(db, store, data);

    expect(stateCount('CREATED')).toBe(createdBefore! - 1);
    expect(stateCount('SHIPPED')).toBe(shippedBefore! + 1);
    expect(page(store, request('createdAt', { limit: 1 })).rows[0]?.key).toBe(target.key);
    expect(page(store, request('updatedAt', { limit: 1, descending: true })).rows[0]?.key).toBe(target.key);
    expect(
      page(store, request('createdAt', { limit: 400, filter: { equals: [{ field: 'state', values: ['CREATED'] }], ranges: [] } })).rows.map(
        (row) => row.key,
      ),
    ).not.toContain(target.key);
    expect(store.nextOffset(target.partition)).toBe('9999');
  });

  it('an update that changes no indexed field rewrites only the row', async () => {
    const { store, data, kv: db } = await loaded(10);
    const target = [...data.values()][17]!;
    const updated = { ...target.row, product: 'Renamed', quantity: 99 };
    store.apply(target.partition, [{ key: target.key, row: updated }], '1');
    target.row = updated;
    expectConsistent(db, store, data);
    expect(store.getRows([{ partition: target.partition, key: target.key }])).toEqual([updated]);
  });

  it('a tombstone removes the row, every index entry and decrements the counters', async () => {
    const { store, data, kv: db } = await loaded(11);
    const target = [...data.values()][42]!;
    const total = store.count(target.partition);
    const counters = Object.fromEntries(
      ORDERS.countedFilters.map((field) => [field, store.count(target.partition, new Map([[field, target.row[field] as Value]]))]),
    );
    expect(store.apply(target.partition, [{ key: target.key, row: null }], '500')).toMatchObject({ upserts: 0, deletes: 1 });
    data.delete(target.key);

    const remaining = scanPrefix(db, ['i', 'orders']).filter((entry) => entry[entry.length - 1] === target.key);
    expect(remaining).toEqual([]);
    expect(store.getRows([{ partition: target.partition, key: target.key }])).toEqual([undefined]);
    expect(store.count(target.partition)).toBe(total! - 1);
    expect(ORDERS.countedFilters.length).toBeGreaterThan(0);
    for (const field of ORDERS.countedFilters) {
      expect(store.count(target.partition, new Map([[field, target.row[field] as Value]]))).toBe(counters[field]! - 1);
    }
    expectConsistent(db, store, data);
    for (const sortField of ORDERS.sortFields) {
      const req = request(sortField, { limit: 400 });
      expect(page(store, req)).toEqual(refPage(data.values(), req));
    }
  });

  it('a tombstone for an unknown key changes nothing but the offset', async () => {
    const { store, data, kv: db } = await loaded(12);
    expect(store.apply(0, [{ key: 'o-nope', row: null }], '77')).toMatchObject({ upserts: 0, deletes: 0 });
    expect(store.nextOffset(0)).toBe('77');
    expectConsistent(db, store, data);
  });

  it('the row cache serves repeated reads without RocksDB and follows every write', async () => {
    const store = await openViewStore(kv!, ORDERS, { rowCache: 2 });
    const random = prng(21);
    const a = makeRow(random, 'o-a');
    const b = makeRow(random, 'o-b');
    const c = makeRow(random, 'o-c');
    store.apply(
      0,
      [
        { key: 'o-a', row: a },
        { key: 'o-b', row: b },
        { key: 'o-c', row: c },
      ],
      '3',
    );
    const refs = [
      { partition: 0, key: 'o-a' },
      { partition: 0, key: 'o-b' },
    ];
    // A first read leaves the rows out of the cache, the second admits them, the third hits.
    expect(store.getRows(refs)).toEqual([a, b]);
    let trips = kv!.stats.roundTrips;
    expect(store.getRows(refs)).toEqual([a, b]);
    expect(kv!.stats.roundTrips).toBe(trips + 1); // both read again, now admitted
    trips = kv!.stats.roundTrips;
    const cachedRows = store.getRows(refs);
    expect(cachedRows).toEqual([a, b]);
    expect(kv!.stats.roundTrips).toBe(trips); // both hits
    // An update replaces the cached row, a tombstone drops it: reads never see an old version.
    const a2 = { ...a, state: 'SHIPPED', updatedAt: at(99) };
    store.apply(
      0,
      [
        { key: 'o-a', row: a2 },
        { key: 'o-b', row: null },
      ],
      '5',
    );
    expect(store.getRows(refs)).toEqual([a2, undefined]);
    // Bounded: reading a third row (twice, to admit it) evicts the least recently read one.
    expect(store.getRows([{ partition: 0, key: 'o-c' }])).toEqual([c]);
    expect(store.getRows([{ partition: 0, key: 'o-c' }])).toEqual([c]);
    const before = kv!.stats.roundTrips;
    store.getRows([
      { partition: 0, key: 'o-c' },
      { partition: 0, key: 'o-a' },
    ]);
    expect(kv!.stats.roundTrips).toBe(before);
    // The store agrees with a store without cache over the same data.
    const plain = await openViewStore(kv!, ORDERS);
    expect(
      plain.getRows([
        { partition: 0, key: 'o-a' },
        { partition: 0, key: 'o-b' },
        { partition: 0, key: 'o-c' },
      ]),
    ).toEqual([a2, undefined, c]);
    // Dropping the partition drops its cached rows too.
    await store.dropPartition(0);
    expect(
      store.getRows([
        { partition: 0, key: 'o-a' },
        { partition: 0, key: 'o-c' },
      ]),
    ).toEqual([undefined, undefined]);
  });

  it('cached lists of one filter value equal a fresh scan in every partition after every kind of write', async () => {
    const store = await openViewStore(kv!, ORDERS, { rowCache: 100 });
    const plain = await openViewStore(kv!, ORDERS);
    const index = ORDERS.indexes.find((candidate) => candidate.filters[0] === 'customerId' && candidate.sort === 'createdAt')!;
    const random = prng(33);
    const rows = new Map<string, Row>();
    const partitionOf = (key: string): number => Number(key.slice(2)) % 2;
    const offsets = [0, 0];
    const write = (key: string, row: Row | null): void => {
      const partition = partitionOf(key);
      store.apply(partition, [{ key, row }], String(++offsets[partition]!));
      if (row) rows.set(key, row);
      else rows.delete(key);
    };
    const expectSame = (value: string, limit = 1000): void => {
      const session = store.session();
      const fresh = plain.session();
      try {
        const cached = store.valueEntries(session, [0, 1], index, value, limit);
        expect(cached).toEqual(plain.valueEntries(fresh, [0, 1], index, value, limit));
        // Partitions in the order asked for.
        expect(store.valueEntries(session, [1, 0], index, value, limit)).toEqual([cached[1], cached[0]]);
        for (const partition of [0, 1]) {
          const expected = [...rows].filter(([key, row]) => row.customerId === value && partitionOf(key) === partition).map(([key]) => key);
          if (limit >= expected.length) expect(cached[partition]!.map((entry) => entry.key).sort()).toEqual(expected.sort());
          else expect(cached[partition]).toHaveLength(limit);
        }
      } finally {
        session.close();
        fresh.close();
      }
    };
    for (let i = 0; i < 6; i++) write(`o-${i}`, { ...makeRow(random, `o-${i}`), customerId: i < 3 ? 'c-a' : 'c-b' });
    expectSame('c-a');
    expectSame('c-b');
    const trips = kv!.stats.roundTrips;
    const session = store.session();
    store.valueEntries(session, [0, 1], index, 'c-a', 1000);
    store.valueEntries(session, [0, 1], index, 'c-a', 1); // a shorter list is a prefix of the cached one
    session.close();
    expect(kv!.stats.roundTrips).toBe(trips); // served from the cache
    write('o-9', { ...makeRow(random, 'o-9'), customerId: 'c-a' }); // a new row joins c-a
    expectSame('c-a');
    write('o-0', { ...rows.get('o-0')!, customerId: 'c-b' }); // a row moves from c-a to c-b
    expectSame('c-a');
    expectSame('c-b');
    write('o-1', { ...rows.get('o-1')!, createdAt: at(999) }); // a row moves within c-a
    expectSame('c-a');
    write('o-2', null); // a row leaves
    expectSame('c-a');
    expectSame('c-c');
    write('o-5', { ...rows.get('o-5')!, customerId: 'c-c' });
    expectSame('c-c');
    expectSame('c-b');
    expectSame('c-b', 1); // a cached short list does not answer a longer one
    expectSame('c-b', 1000);
    await store.dropPartition(1);
    for (const key of [...rows.keys()]) if (partitionOf(key) === 1) rows.delete(key);
    await plain.dropPartition(1);
    expectSame('c-a');
    expectSame('c-b');
  });

  it("a reader's caches drop what each write's note names, and keep the rest", async () => {
    // The owner writes; a store attached to the same database (as a read worker's) caches rows,
    // lists and partition state, and follows the owner's writes by their notes alone.
    const owner = await openViewStore(kv!, ORDERS);
    const attached = attachKeyValueStore(kv!.handle, kv!.writes);
    const reader = await openViewStore(attached, ORDERS, { rowCache: 100 });
    const notes: Array<[number, WriteNote | undefined]> = [];
    kv!.onWrite((sequence, note) => {
      expect(Atomics.load(kv!.writes, 0)).toBe(sequence - 1); // told while the write is under way
      notes.push([sequence, note]);
    });
    const index = ORDERS.indexes.find((candidate) => candidate.filters[0] === 'customerId' && candidate.sort === 'createdAt')!;
    const random = prng(41);
    const row = (key: string, customerId: string): Row => ({ ...makeRow(random, key), customerId });
    const [a, b, c] = [row('o-a', 'c-1'), row('o-b', 'c-1'), row('o-c', 'c-2')];
    owner.apply(
      0,
      [
        { key: 'o-a', row: a },
        { key: 'o-b', row: b },
      ],
      '2',
    );
    owner.apply(1, [{ key: 'o-c', row: c }], '1');
    const refs = [
      { partition: 0, key: 'o-a' },
      { partition: 0, key: 'o-b' },
      { partition: 1, key: 'o-c' },
    ];
    const lists = (value: string) => {
      const session = reader.session();
      try {
        return reader.valueEntries(session, [0, 1], index, value, 10).map((list) => list.map((entry) => entry.key).sort());
      } finally {
        session.close();
      }
    };
    // Warm: rows admitted on their second read, the lists and both partitions' counts cached.
    reader.getRows(refs);
    expect(reader.getRows(refs)).toEqual([a, b, c]);
    expect(lists('c-1')).toEqual([['o-a', 'o-b'], []]);
    expect(lists('c-2')).toEqual([[], ['o-c']]);
    expect([reader.count(0), reader.count(1)]).toEqual([2, 1]);
    const trips = attached.stats.roundTrips;
    reader.getRows(refs);
    lists('c-1');
    lists('c-2');
    expect(attached.stats.roundTrips).toBe(trips);

    // o-a moves from customer c-1 to c-3 and o-b leaves: the note names the keys and values.
    notes.length = 0;
    const a2 = { ...a, customerId: 'c-3', quantity: 99 };
    owner.apply(
      0,
      [
        { key: 'o-a', row: a2 },
        { key: 'o-b', row: null },
      ],
      '4',
    );
    expect(notes).toHaveLength(1);
    const [sequence, note] = notes[0]!;
    expect(sequence).toBe(Atomics.load(kv!.writes, 0));
    expect(note!.view).toBe(ORDERS.id);
    expect(note!.partition).toBe(0);
    expect([...note!.keys].sort()).toEqual(['o-a', 'o-b']);
    expect(note!.values).toEqual(expect.arrayContaining(['c-1', 'c-3']));
    reader.forgetWritten(note!);
    // What the write touched is read again, and is the new state.
    let before = attached.stats.roundTrips;
    expect(reader.getRows([refs[0]!, refs[1]!])).toEqual([a2, undefined]);
    expect(lists('c-1')).toEqual([[], []]);
    expect(lists('c-3')).toEqual([['o-a'], []]);
    expect(reader.count(0)).toBe(1);
    expect(attached.stats.roundTrips).toBeGreaterThan(before);
    // What it did not touch is still cached: o-c's row, c-2's lists, partition 1's count.
    before = attached.stats.roundTrips;
    expect(reader.getRows([refs[2]!])).toEqual([c]);
    expect(lists('c-2')).toEqual([[], ['o-c']]);
    expect(reader.count(1)).toBe(1);
    expect(attached.stats.roundTrips).toBe(before);

    // A range delete is told as "anything changed"; trimming and its samples name the partition.
    notes.length = 0;
    await owner.dropPartition(1);
    expect(notes.map(([, told]) => told)).toEqual(Array.from({ length: notes.length }, () => undefined));
    expect(notes.length).toBeGreaterThan(0);
    notes.length = 0;
    owner.trimTombstones(0, '4', 100);
    owner.saveAppliedTimes(0, [{ at: 1, offset: '4' }]);
    expect(notes.map(([, told]) => told)).toEqual([
      { view: ORDERS.id, partition: 0, keys: [], values: [] },
      { view: ORDERS.id, partition: 0, keys: [], values: [] },
    ]);
    // A batch of more than 512 keys (a slice of a catch-up) is told as "anything changed".
    notes.length = 0;
    owner.apply(
      0,
      Array.from({ length: 513 }, (_, i) => ({ key: `o-big-${i}`, row: row(`o-big-${i}`, 'c-9') })),
      '600',
    );
    expect(notes).toEqual([[Atomics.load(kv!.writes, 0), undefined]]);
    kv!.onWrite(undefined);
    await attached.close();
  });

  it('a counter that reaches zero is deleted from the store', async () => {
    const store = await openViewStore(kv!, ORDERS);
    const row = makeRow(prng(1), 'o-only');
    store.apply(1, [{ key: 'o-only', row }], '1');
    expect(scanPrefix(kv!, ['c', 'orders', 1]).length).toBe(1 + ORDERS.counterSets.length);
    store.apply(1, [{ key: 'o-only', row: null }], '2');
    expect(scanPrefix(kv!, ['c', 'orders', 1])).toEqual([]);
    expect(store.count(1)).toBe(0);
  });

  it('within one batch the last version of a key wins', async () => {
    const store = await openViewStore(kv!, ORDERS);
    const random = prng(13);
    const v1 = { ...makeRow(random, 'o-dup'), state: 'CREATED', createdAt: at(1) };
    const v2 = { ...v1, state: 'VALIDATED', createdAt: at(2), updatedAt: at(3) };
    const other = makeRow(random, 'o-other');
    const result = store.apply(
      0,
      [
        { key: 'o-dup', row: v1 },
        { key: 'o-other', row: other },
        { key: 'o-dup', row: v2 },
      ],
      '3',
    );
    expect(result).toMatchObject({ upserts: 2, deletes: 0 });
    const data = new Map<string, Stored>([
      ['o-dup', { partition: 0, key: 'o-dup', row: v2 }],
      ['o-other', { partition: 0, key: 'o-other', row: other }],
    ]);
    expectConsistent(kv!, store, data);
    expect(store.count(0, new Map([['state', 'CREATED']]))).toBe(other.state === 'CREATED' ? 1 : 0);

    // an insert and a delete of a new key in one batch leave nothing
    expect(
      store.apply(
        0,
        [
          { key: 'o-gone', row: other },
          { key: 'o-gone', row: null },
        ],
        '5',
      ),
    ).toMatchObject({ upserts: 0, deletes: 0 });
    // a delete followed by a re-insert of an existing key keeps the re-inserted version
    const v3 = { ...v2, state: 'FAILED' };
    store.apply(
      0,
      [
        { key: 'o-dup', row: null },
        { key: 'o-dup', row: v3 },
      ],
      '7',
    );
    data.get('o-dup')!.row = v3;
    expectConsistent(kv!, store, data);
    expect(store.nextOffset(0)).toBe('7');
  });
});

describe('persistence', () => {
  it('nextOffset, rows and counters survive close and reopen', async () => {
    const { store, data } = await loaded(14);
    const before = PARTITIONS.map((partition) => store.nextOffset(partition));
    expect(before.every((offset) => offset !== undefined)).toBe(true);
    expect(store.nextOffset(5)).toBeUndefined();

    const db = await reopenKv();
    const reopened = await openViewStore(db, ORDERS);
    expect(PARTITIONS.map((partition) => reopened.nextOffset(partition))).toEqual(before);
    expectConsistent(db, reopened, data);
    const req = request('updatedAt', { limit: 400, descending: true });
    expect(page(reopened, req)).toEqual(refPage(data.values(), req));
  });

  it('views without declared indexes keep the fingerprint of stores written before indexes could be declared', () => {
    // The reference orders view's fingerprint before IndexModel had `filters`: such a store must
    // open as it is, without a rebuild from the topic.
    const { indexes: _declared, ...plain } = orders as ViewDeclaration;
    expect(layoutFingerprint(compile(plain).orders)).toBe('0fb65adf88dfbc66');
    expect(layoutFingerprint(compile({ ...plain, indexes: [['state', 'currency']] }).orders)).not.toBe('0fb65adf88dfbc66');
  });

  it('a changed layout fingerprint drops the view data on reopen, and only that view', async () => {
    const { data } = await loaded(15);
    const { customers: customersView } = compile();
    const customerStore = await openViewStore(kv!, customersView);
    const customer = { customerId: 'c-1', name: 'Ada', email: 'ada@example.com', tier: 'GOLD', country: 'DE', createdAt: at(0), updatedAt: at(0) };
    customerStore.apply(0, [{ key: 'c-1', row: customer }], '1');

    const db = await reopenKv();
    // same declaration: nothing is dropped
    const same = await openViewStore(db, ORDERS);
    expect(same.count(0)).toBeGreaterThan(0);
    expectConsistent(db, same, data);

    const modified = compile({ ...orders, sortKeys: [...orders.sortKeys, 'product'] }).orders;
    expect(modified.indexes.length).toBeGreaterThan(ORDERS.indexes.length);
    const db2 = await reopenKv();
    const dropped = await openViewStore(db2, modified);
    for (const partition of PARTITIONS) {
      expect(dropped.nextOffset(partition)).toBeUndefined();
      expect(dropped.count(partition)).toBe(0);
    }
    for (const tag of ['r', 'i', 'c', 'o']) expect(scanPrefix(db2, [tag, 'orders']), tag).toEqual([]);
    const anyKey = [...data.values()][0]!;
    expect(dropped.getRows([{ partition: anyKey.partition, key: anyKey.key }])).toEqual([undefined]);

    // the other view in the same database is untouched
    const customersAgain = await openViewStore(db2, customersView);
    expect(customersAgain.getRows([{ partition: 0, key: 'c-1' }])).toEqual([customer]);
    expect(customersAgain.nextOffset(0)).toBe('1');

    // the new fingerprint is stored: rebuilt data survives the next reopen
    const rebuilt = new Map([...data].slice(0, 30));
    applyAll(dropped, rebuilt.values());
    const db3 = await reopenKv();
    const again = await openViewStore(db3, modified);
    expectConsistent(db3, again, rebuilt);
    expect(actualIndexEntries(db3, modified)).toEqual(expectedIndexEntries(modified, rebuilt.values()));
  });

  it('dropPartition removes only that partition', async () => {
    const { store, data, kv: db } = await loaded(16);
    const offset0 = store.nextOffset(0);
    await store.dropPartition(1);
    for (const [key, stored] of data) if (stored.partition === 1) data.delete(key);

    expect(store.nextOffset(1)).toBeUndefined();
    expect(store.nextOffset(0)).toBe(offset0);
    expect(store.count(1)).toBe(0);
    for (const tag of ['r', 'i', 'c', 'o']) expect(scanPrefix(db, [tag, 'orders', 1]), tag).toEqual([]);
    expectConsistent(db, store, data);
    const req = request('createdAt', { limit: 400 });
    expect(page(store, req)).toEqual(refPage(data.values(), req));
    expect(count(store, NONE)).toBe(data.size);

    // the partition can be rebuilt after the drop
    const refill = generate(99, 20);
    const moved = [...refill.values()].map((stored) => ({
      ...stored,
      key: `p1-${stored.key}`,
      partition: 1,
      row: { ...stored.row, orderId: `p1-${stored.key}` },
    }));
    store.apply(1, moved, '20');
    for (const stored of moved) data.set(stored.key, stored);
    expectConsistent(db, store, data);
  });
});

describe('scans', () => {
  // A scan hands out at most `max` entries per call, whatever its read-ahead has grown to.
  it('Scan.next(max) returns at most max entries', async () => {
    const { store } = await loaded(17);
    const session = store.session();
    try {
      const index = ORDERS.indexes[0]!;
      const scan = session.openScan(0, { index, reverse: false });
      expect(scan.next(1)).toHaveLength(1);
      expect(scan.next(3)).toHaveLength(3);
      scan.close();
    } finally {
      session.close();
    }
  });

  it('Scan.next returns every entry exactly once in order, whatever the chunk sizes', async () => {
    const { store, data } = await loaded(18);
    const session = store.session();
    try {
      const index = ORDERS.indexes.find((candidate) => candidate.filters[0] === 'customerId' && candidate.sort === 'createdAt')!;
      const customerId = [...data.values()].find((stored) => stored.partition === 2)!.row.customerId as string;
      for (const reverse of [false, true]) {
        const scan = session.openScan(2, { index, filterValues: [customerId], reverse });
        const keys: string[] = [];
        for (let entries = scan.next(3); entries.length > 0; entries = scan.next(3)) keys.push(...entries.map((entry) => entry.key));
        scan.close();
        const expected = refOrdered(
          data.values(),
          'createdAt',
          reverse,
          { equals: [{ field: 'customerId', values: [customerId] }], ranges: [] },
          [2],
        );
        expect(expected.length).toBeGreaterThan(0);
        expect(keys).toEqual(expected.map((stored) => stored.key));
      }
    } finally {
      session.close();
    }
  });
});

describe('bounded scans', () => {
  // A page's own scans (`alone`) read values alone from readers bounded in RocksDB; every other
  // scan seeks a pooled reader and reads keys. Both must hand out the same entries.
  it('a scan with a reader of its own equals a pooled scan for every index, bound, cursor and direction', async () => {
    const { store, data } = await loaded(23);
    // With a check, a read may hand back nothing before the end: the scan's position tells.
    const drain = (scan: Scan, step: number): ScanEntry[] => {
      const out: ScanEntry[] = [];
      for (let entries = scan.next(step); scan.position !== undefined; entries = scan.next(step)) {
        expect(entries.length).toBeLessThanOrEqual(step);
        out.push(...entries.map((entry) => ({ ...entry })));
      }
      expect(scan.next(step)).toEqual([]);
      scan.close();
      return out;
    };
    const rows = [...data.values()].filter((stored) => stored.partition === 1);
    const rowOf = new Map(rows.map((stored) => [stored.key, stored.row]));
    // A check on an indexed field that about a third of the rows pass, and one none pass.
    const currency = rows[3]!.row.currency;
    const checks = [undefined, (fields: Row) => fields.currency === currency, () => false];
    let compared = 0;
    let dropped = 0;
    for (const index of ORDERS.indexes) {
      const valueSets =
        index.filters.length === 0
          ? [undefined]
          : [[sortElement(rows[0]!.row, index.filters[0]!)], [sortElement(rows[7]!.row, index.filters[0]!)], ['none']];
      for (const filterValues of valueSets) {
        for (const reverse of [false, true]) {
          for (const where of checks) {
            const session = store.session();
            try {
              const all = drain(session.openScan(1, { index, filterValues, reverse }), 1000);
              const middle = all[Math.floor(all.length / 2)];
              const specs: ScanSpec[] = [{ index, filterValues, reverse }];
              if (middle) {
                specs.push({ index, filterValues, reverse, after: [middle.sortValue, middle.key] });
                specs.push({ index, filterValues, reverse, after: [middle.sortValue, middle.key], afterInclusive: true });
                if (typeof middle.sortValue === 'number') {
                  specs.push({ index, filterValues, reverse, lower: { value: middle.sortValue, inclusive: false } });
                  specs.push({ index, filterValues, reverse, upper: { value: middle.sortValue, inclusive: true } });
                }
              }
              for (const spec of specs) {
                // The check drops exactly the entries whose rows fail it, in every kind of scan.
                const unchecked = drain(session.openScan(1, spec), 1000);
                const expected = where ? unchecked.filter((entry) => where(rowOf.get(entry.key)!)) : unchecked;
                dropped += unchecked.length - expected.length;
                for (const step of [1, 4, 1000]) {
                  const pooled = drain(session.openScan(1, { ...spec, where }), step);
                  const alone = drain(session.openScan(1, { ...spec, where, alone: true }), step);
                  expect(pooled, JSON.stringify({ index: index.id, spec, step, where: String(where) })).toEqual(expected);
                  expect(alone, JSON.stringify({ index: index.id, spec, step, where: String(where) })).toEqual(expected);
                  compared += pooled.length;
                }
              }
            } finally {
              session.close();
            }
          }
        }
      }
    }
    expect(compared).toBeGreaterThan(1000);
    expect(dropped).toBeGreaterThan(1000);
  });

  it('hands back keys that need escaping, or are long, exactly as they were written', async () => {
    const store = await openViewStore(kv!, ORDERS);
    const random = prng(29);
    const keys = ['o-"quoted"', 'o-\\back\\slash', 'o-nul\u0000inside', 'o-emoji-🚚', 'o-lone-\ud800', `o-${'x'.repeat(4000)}`, 'o-\u2028line'];
    for (const [i, key] of keys.entries()) store.apply(0, [{ key, row: { ...makeRow(random, key), createdAt: at(i) } }], String(i + 1));
    const session = store.session();
    try {
      const index = ORDERS.indexes.find((candidate) => candidate.filters.length === 0 && candidate.sort === 'createdAt')!;
      for (const where of [undefined, () => true]) {
        const scan = session.openScan(0, { index, reverse: false, where, alone: true });
        expect(scan.next(100).map((entry) => entry.key)).toEqual(keys);
        scan.close();
      }
      expect(readPage(store, session, [0], request('createdAt', { limit: 100 })).rows.map((row) => row.key)).toEqual(keys);
    } finally {
      session.close();
    }
  });
});

describe('counters of values containing NUL', () => {
  // A view with a plain string filter: counted (see ViewModel.countedFilters) and without a pattern,
  // so ingest accepts any string there, U+0000 included.
  const tickets = compileViews([
    {
      name: 'Ticket',
      plural: 'tickets',
      description: 'test view',
      topic: 'tickets',
      key: 'ticketId',
      fields: {
        ticketId: { type: 'id', description: 'key' },
        region: { type: 'string', description: 'free-form region' },
        createdAt: { type: 'timestamp', description: 'created' },
      },
      sortKeys: ['createdAt'],
      filters: ['region'],
    },
  ])[0]!;

  it('the test view counts its string filter', () => {
    expect(tickets.countedFilters).toEqual(['region']);
  });

  // Counter keys of values with U+0000 decode to the same counts after the store is reopened.
  it('survive a reopen', async () => {
    const store = await openViewStore(kv!, tickets);
    const ticket = (ticketId: string, region: string): RowChange => ({ key: ticketId, row: { ticketId, region, createdAt: at(1) } });
    store.apply(0, [ticket('t-3', 'eu')], '1');
    store.apply(0, [ticket('t-1', 'eu\u0000west'), ticket('t-2', 'eu\u0000west')], '3');
    expect(store.count(0, new Map([['region', 'eu\u0000west']]))).toBe(2);
    expect(store.count(0, new Map([['region', 'eu']]))).toBe(1);
    const db = await reopenKv();
    const reopened = await openViewStore(db, tickets);
    expect(reopened.count(0)).toBe(3);
    expect(reopened.count(0, new Map([['region', 'eu']]))).toBe(1);
    expect(reopened.count(0, new Map([['region', 'eu\u0000west']]))).toBe(2);
  });
});

describe('change log', () => {
  const row = (key: string) => makeRow(prng(key.length), key);

  it('lists the latest version per key and tombstones in offset order; a key starting with "-" is not a tombstone', async () => {
    const store = await openViewStore(kv!, ORDERS);
    store.apply(
      0,
      [
        { key: 'o-1', row: row('o-1'), offset: '0' },
        { key: '-o-2', row: row('-o-2'), offset: '1' },
      ],
      '2',
    );
    store.apply(
      0,
      [
        { key: 'o-1', row: row('o-1'), offset: '2' },
        { key: 'o-3', row: row('o-3'), offset: '3' },
      ],
      '4',
    );
    store.apply(0, [{ key: 'o-3', row: null, offset: '4' }], '5');
    expect(store.changesSince(0, '0', 100)).toEqual([
      { offset: '1', key: '-o-2', deleted: false },
      { offset: '2', key: 'o-1', deleted: false },
      { offset: '4', key: 'o-3', deleted: true },
    ]);
    expect(store.changesSince(0, '3', 1)).toEqual([{ offset: '4', key: 'o-3', deleted: true }]);
  });

  it('trimTombstones drops tombstone markers below the bound, keeps live rows and later tombstones, and persists its trim point', async () => {
    let store = await openViewStore(kv!, ORDERS);
    // Offsets 0..9 insert o-0..o-9; 10..14 delete o-0..o-4; 15 deletes o-5 later.
    store.apply(
      1,
      Array.from({ length: 10 }, (_, i) => ({ key: `o-${i}`, row: row(`o-${i}`), offset: String(i) })),
      '10',
    );
    store.apply(
      1,
      Array.from({ length: 5 }, (_, i) => ({ key: `o-${i}`, row: null, offset: String(10 + i) })),
      '15',
    );
    store.apply(1, [{ key: 'o-5', row: null, offset: '15' }], '16');
    expect(store.tombstonesTrimmedBelow(1)).toBeUndefined();

    // The log now holds o-6..o-9 (offsets 6..9; o-5's entry moved to its tombstone at 15) and
    // tombstones at 10..15. Reading at most 7 entries, the first call reads 6..12.
    expect(store.trimTombstones(1, '15', 7)).toEqual({ trimmedBelow: '13', removed: 3 });
    expect(store.trimTombstones(1, '15', 7)).toEqual({ trimmedBelow: '15', removed: 2 });
    expect(store.trimTombstones(1, '15', 7)).toEqual({ trimmedBelow: '15', removed: 0 });
    expect(store.changesSince(1, '0', 100)).toEqual([
      ...[6, 7, 8, 9].map((i) => ({ offset: String(i), key: `o-${i}`, deleted: false })),
      { offset: '15', key: 'o-5', deleted: true },
    ]);
    // Other partitions are untouched, and the trim point survives a reopen.
    expect(store.tombstonesTrimmedBelow(0)).toBeUndefined();
    await reopenKv();
    store = await openViewStore(kv!, ORDERS);
    expect(store.tombstonesTrimmedBelow(1)).toBe('15');
    expect(store.changesSince(1, '15', 10)).toEqual([{ offset: '15', key: 'o-5', deleted: true }]);
    await store.dropPartition(1);
    expect(store.tombstonesTrimmedBelow(1)).toBeUndefined();
  });
});

describe('opening the store', () => {
  it('names DATA_DIR when another open store holds its lock', async () => {
    const second = await openKeyValueStore(dir).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(second).toMatchObject({ code: 'GW_CONFIG_INVALID', details: { variable: 'DATA_DIR' } });
    expect((second as Error).message).toContain(`DATA_DIR ${dir} is in use by another process`);
  });
});

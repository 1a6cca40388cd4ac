/**
 * The GraphQL requests the bench sends, and the checks each must pass once before it is measured
 * (HTTP 200, `data` present, no `errors`, the expected shape), so a broken query cannot produce
 * fast-looking numbers.
 */
import type { PageRequest } from '../../src/query/page.ts';

/** Same fields on the gateway and the baseline server (the baseline's SDL has exactly these). */
export const LOOKUP_QUERY =
  'query Lookup($id: ID!) { order(orderId: $id) { orderId customerId state product quantity unitPrice currency createdAt updatedAt } }';

export function lookupBody(orderId: string): string {
  return JSON.stringify({ query: LOOKUP_QUERY, variables: { id: orderId } });
}

const LOOKUP_FIELDS = 'orderId customerId state product quantity unitPrice currency createdAt updatedAt';

/**
 * One server's spelling of the order lookup: with variables (one document), and with the id and a
 * unique comment written into the text (every document new, so parse and validate run each time).
 * `missing` is the text of an answer that found no order.
 */
export interface LookupDialect {
  readonly field: string;
  readonly missing: string;
  variablesBody(orderId: string): string;
  inTextBody(orderId: string, salt: string): string;
}

/** The gateway and the stock yoga baseline share the SDL of `order(orderId)`. */
export const GATEWAY_LOOKUP: LookupDialect = {
  field: 'order',
  missing: '"order":null',
  variablesBody: lookupBody,
  inTextBody: (orderId, salt) => JSON.stringify({ query: `{ order(orderId: "${orderId}") { ${LOOKUP_FIELDS} } } # ${salt}` }),
};

export const POSTGRAPHILE_LOOKUP: LookupDialect = {
  field: 'orderByOrderId',
  missing: '"orderByOrderId":null',
  variablesBody: (orderId) =>
    JSON.stringify({
      query: `query Lookup($id: String!) { orderByOrderId(orderId: $id) { ${LOOKUP_FIELDS} } }`,
      variables: { id: orderId },
    }),
  inTextBody: (orderId, salt) => JSON.stringify({ query: `{ orderByOrderId(orderId: "${orderId}") { ${LOOKUP_FIELDS} } } # ${salt}` }),
};

/** The grid's columns: an order row with its customer and payments. */
const GRID_NODE =
  'orderId state product quantity unitPrice currency createdAt customer { name tier country } payments { paymentId status amount method }';

/**
 * PostGraphile's spelling of the same page: `allOrders` with `condition` (equality) and `orderBy`,
 * relations named after the foreign keys. Ties in the sort value are broken by the key, in the
 * sort's direction, as the gateway's index order does (sort value, then key); payments oldest
 * first, then by key, as the gateway lists them.
 */
const PG_GRID_NODE =
  'orderId state product quantity unitPrice currency createdAt customerByCustomerId { name tier country } ' +
  'paymentsByOrderId(orderBy: [CREATED_AT_ASC, PAYMENT_ID_ASC]) { nodes { paymentId status amount method } }';

export type Dialect = 'gateway' | 'postgraphile';

export interface GridVariant {
  readonly name: string;
  readonly query: string;
  readonly dialect: Dialect;
  readonly totalCount: boolean;
}

interface GridSpec {
  readonly name: string;
  readonly state?: string;
  readonly currency?: string;
  readonly sort: 'createdAt desc' | 'updatedAt asc';
}

/** The README's grid query first (shipped orders in EUR, newest first), then the variants the load script rotates through. */
const GRID_SPECS: readonly GridSpec[] = [
  { name: 'state=SHIPPED currency=EUR, createdAt desc', state: 'SHIPPED', currency: 'EUR', sort: 'createdAt desc' },
  { name: 'state=SHIPPED, createdAt desc', state: 'SHIPPED', sort: 'createdAt desc' },
  { name: 'currency=USD, updatedAt asc', currency: 'USD', sort: 'updatedAt asc' },
  { name: 'state=CANCELLED currency=GBP, updatedAt asc', state: 'CANCELLED', currency: 'GBP', sort: 'updatedAt asc' },
  { name: 'state=FAILED, createdAt desc', state: 'FAILED', sort: 'createdAt desc' },
  { name: 'currency=EUR, updatedAt asc', currency: 'EUR', sort: 'updatedAt asc' },
];

function gridVariant(spec: GridSpec, dialect: Dialect, totalCount: boolean): GridVariant {
  const count = totalCount ? 'totalCount ' : '';
  const name = `${spec.name}${totalCount ? '' : ', no totalCount'}`;
  if (dialect === 'gateway') {
    const orderBy = spec.sort === 'createdAt desc' ? '{field: CREATED_AT, direction: DESC}' : '{field: UPDATED_AT, direction: ASC}';
    const filter = [spec.state && `state: {eq: ${spec.state}}`, spec.currency && `currency: {eq: "${spec.currency}"}`].filter(Boolean).join(', ');
    const selection = `${count}pageInfo { hasNextPage endCursor } edges { node { ${GRID_NODE} } }`;
    return { name, dialect, totalCount, query: `query Grid { orders(first: 50, orderBy: ${orderBy}, filter: {${filter}}) { ${selection} } }` };
  }
  const orderBy = spec.sort === 'createdAt desc' ? '[CREATED_AT_DESC, ORDER_ID_DESC]' : '[UPDATED_AT_ASC, ORDER_ID_ASC]';
  const condition = [spec.state && `state: ${spec.state}`, spec.currency && `currency: "${spec.currency}"`].filter(Boolean).join(', ');
  const selection = `${count}pageInfo { hasNextPage endCursor } edges { node { ${PG_GRID_NODE} } }`;
  return { name, dialect, totalCount, query: `query Grid { allOrders(first: 50, orderBy: ${orderBy}, condition: {${condition}}) { ${selection} } }` };
}

/** The same grids as the page requests `readPage` gets for the orders view (without limit and direction), in GRID_SPECS order. */
export const GRID_PAGES: ReadonlyArray<readonly [name: string, request: Omit<PageRequest, 'limit' | 'backward'>]> = GRID_SPECS.map((spec) => {
  const equals = [
    ...(spec.state ? [{ field: 'state', values: [spec.state] }] : []),
    ...(spec.currency ? [{ field: 'currency', values: [spec.currency] }] : []),
  ];
  const sortField = spec.sort === 'createdAt desc' ? 'createdAt' : 'updatedAt';
  return [spec.name, { sortField, descending: spec.sort === 'createdAt desc', filter: { equals, ranges: [] } }];
});

/** The grid variants of one server, with or without totalCount, in GRID_SPECS order. */
export function gridVariants(dialect: Dialect, totalCount: boolean): GridVariant[] {
  return GRID_SPECS.map((spec) => gridVariant(spec, dialect, totalCount));
}

/** The gateway's grid variants with totalCount (the figures the README cites). */
export const GRID_VARIANTS: readonly GridVariant[] = gridVariants('gateway', true);

export function gridBody(variant: GridVariant): string {
  return JSON.stringify({ query: variant.query });
}

interface GraphQLBody {
  data?: Record<string, unknown> | null;
  errors?: unknown[];
}

export async function post(url: string, body: string): Promise<{ status: number; json: GraphQLBody; bytes: number }> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body,
    signal: AbortSignal.timeout(120_000),
  });
  const text = await response.text();
  let json: GraphQLBody;
  try {
    json = JSON.parse(text) as GraphQLBody;
  } catch {
    throw new Error(`${url}: HTTP ${response.status}, body is not JSON: ${text.slice(0, 300)}`);
  }
  return { status: response.status, json, bytes: Buffer.byteLength(text) };
}

function checkOk(what: string, result: { status: number; json: GraphQLBody }): Record<string, unknown> {
  const { status, json } = result;
  if (status !== 200 || json.errors !== undefined || !json.data) {
    throw new Error(`${what}: expected HTTP 200 with data and no errors, got ${status}: ${JSON.stringify(json).slice(0, 500)}`);
  }
  return json.data;
}

/**
 * Every id must resolve to its order, with variables and (unless `variablesOnly`: the floor
 * server reads no query text) with the id in the text; returns the `order` objects (timestamps
 * normalized, see `normalizeTime`) for cross-checking.
 */
export async function verifyLookups(
  what: string,
  url: string,
  ids: readonly string[],
  dialect: LookupDialect = GATEWAY_LOOKUP,
  variablesOnly = false,
): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const id of ids) {
    const bodies = variablesOnly ? [dialect.variablesBody(id)] : [dialect.variablesBody(id), dialect.inTextBody(id, `check-${id}`)];
    for (const body of bodies) {
      const data = checkOk(`${what} lookup ${id}`, await post(url, body));
      const order = data[dialect.field] as Record<string, unknown> | null;
      if (!order || order.orderId !== id) {
        throw new Error(`${what} lookup ${id}: expected the order, got ${JSON.stringify(data).slice(0, 300)}`);
      }
      if (body === dialect.variablesBody(id)) {
        out.push({ ...order, createdAt: normalizeTime(order.createdAt), updatedAt: normalizeTime(order.updatedAt) });
      }
    }
  }
  return out;
}

/**
 * Timestamps as ISO-8601 UTC with milliseconds: the gateway answers `2024-12-31T16:49:08.015Z`,
 * PostGraphile `2024-12-31T16:49:08.015000+00:00` for the same instant.
 */
export function normalizeTime(value: unknown): unknown {
  return typeof value === 'string' ? new Date(value).toISOString() : value;
}

export interface GridCheck {
  readonly name: string;
  /** -1 for a variant without totalCount. */
  readonly totalCount: number;
  readonly edges: number;
  readonly bytes: number;
  /** Time of this one request on an otherwise idle server. */
  readonly ms: number;
  /** The page as `gridRows` projects it, for comparing servers. */
  readonly rows: GridRow[];
}

/** One grid row in a form both servers' answers map to (relations under the gateway's names). */
export interface GridRow {
  readonly [field: string]: unknown;
}

/**
 * The rows of a page, in order: every requested field, the customer and the payments under the
 * gateway's names (`customer`, `payments` as a list), timestamps normalized (`normalizeTime`).
 * Numbers are compared as JSON numbers: both servers print doubles in the shortest form that
 * round-trips, and PostgreSQL's double precision holds the same values the gateway stores.
 */
function gridRows(dialect: Dialect, edges: ReadonlyArray<{ node: Record<string, unknown> }>): GridRow[] {
  return edges.map(({ node }) => {
    const { customer, customerByCustomerId, payments, paymentsByOrderId, ...order } = node;
    return {
      ...order,
      createdAt: normalizeTime(order.createdAt),
      customer: dialect === 'gateway' ? customer : customerByCustomerId,
      payments: dialect === 'gateway' ? payments : (paymentsByOrderId as { nodes?: unknown } | null)?.nodes,
    };
  });
}

interface Connection {
  totalCount?: number;
  edges: Array<{ node: Record<string, unknown> }>;
}

/**
 * Each variant: a full page (50 edges, or all of a smaller result), customers and payments
 * present. Variants without totalCount take the expected size from `counts` (by position, from
 * the same variants with totalCount), or expect 50.
 */
export async function verifyGrid(url: string, variants: readonly GridVariant[] = GRID_VARIANTS, counts?: readonly number[]): Promise<GridCheck[]> {
  const checks: GridCheck[] = [];
  for (const [i, variant] of variants.entries()) {
    const started = performance.now();
    const result = await post(url, gridBody(variant));
    const ms = performance.now() - started;
    const data = checkOk(`grid "${variant.name}"`, result);
    const orders = (variant.dialect === 'gateway' ? data.orders : data.allOrders) as Connection | undefined;
    const rows = gridRows(variant.dialect, orders?.edges ?? []);
    const known = variant.totalCount ? orders?.totalCount : counts?.[i];
    const expected = known === undefined ? 50 : Math.min(50, known);
    const withCustomer = rows.filter((row) => row.customer !== null && typeof row.customer === 'object').length;
    const withPayments = rows.filter((row) => Array.isArray(row.payments) && row.payments.length > 0).length;
    if (!orders || expected === 0 || rows.length !== expected || withCustomer !== rows.length || withPayments === 0) {
      throw new Error(
        `grid "${variant.name}": expected ${expected || 'some'} edges with customers and payments, got ` +
          `totalCount ${orders?.totalCount}, ${rows.length} edges, ${withCustomer} with customer, ${withPayments} with payments`,
      );
    }
    checks.push({ name: variant.name, totalCount: orders.totalCount ?? -1, edges: rows.length, bytes: result.bytes, ms, rows });
  }
  return checks;
}

/** Throws unless both servers answered every variant with the same rows (and counts) in the same order. */
export function compareGrids(a: readonly GridCheck[], b: readonly GridCheck[], names: [string, string]): void {
  a.forEach((left, i) => {
    const right = b[i]!;
    if (left.totalCount !== right.totalCount) {
      throw new Error(`grid "${left.name}": totalCount ${left.totalCount} on ${names[0]}, ${right.totalCount} on ${names[1]}`);
    }
    left.rows.forEach((row, j) => {
      if (canonical(row) !== canonical(right.rows[j])) {
        throw new Error(`grid "${left.name}" row ${j}: ${names[0]} ${canonical(row)} vs ${names[1]} ${canonical(right.rows[j])}`);
      }
    });
  });
}

/** Canonical JSON (sorted keys) for comparing the gateway's and the baseline's answers. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonical(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

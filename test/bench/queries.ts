/**
 * The GraphQL requests the bench sends, and the checks each must pass once before it is measured
 * (HTTP 200, `data` present, no `errors`, the expected shape), so a broken query cannot produce
 * fast-looking numbers.
 */

/** Same fields on the gateway and the baseline server (the baseline's SDL has exactly these). */
export const LOOKUP_QUERY =
  'query Lookup($id: ID!) { order(orderId: $id) { orderId customerId state product quantity unitPrice currency createdAt updatedAt } }';

export function lookupBody(orderId: string): string {
  return JSON.stringify({ query: LOOKUP_QUERY, variables: { id: orderId } });
}

const GRID_SELECTION =
  'totalCount pageInfo { hasNextPage endCursor } edges { node { orderId state product quantity unitPrice currency createdAt customer { name tier country } payments { paymentId status amount method } } }';

export interface GridVariant {
  readonly name: string;
  readonly query: string;
}

function grid(name: string, orderBy: string, filter: string): GridVariant {
  return { name, query: `query Grid { orders(first: 50, orderBy: ${orderBy}, filter: ${filter}) { ${GRID_SELECTION} } }` };
}

const CREATED_DESC = '{field: CREATED_AT, direction: DESC}';
const UPDATED_ASC = '{field: UPDATED_AT, direction: ASC}';

/** The README's grid query first (shipped orders in EUR, newest first), then the variants the load script rotates through. */
export const GRID_VARIANTS: readonly GridVariant[] = [
  grid('state=SHIPPED currency=EUR, createdAt desc', CREATED_DESC, '{state: {eq: SHIPPED}, currency: {eq: "EUR"}}'),
  grid('state=SHIPPED, createdAt desc', CREATED_DESC, '{state: {eq: SHIPPED}}'),
  grid('currency=USD, updatedAt asc', UPDATED_ASC, '{currency: {eq: "USD"}}'),
  grid('state=CANCELLED currency=GBP, updatedAt asc', UPDATED_ASC, '{state: {eq: CANCELLED}, currency: {eq: "GBP"}}'),
  grid('state=FAILED, createdAt desc', CREATED_DESC, '{state: {eq: FAILED}}'),
  grid('currency=EUR, updatedAt asc', UPDATED_ASC, '{currency: {eq: "EUR"}}'),
];

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

/** Every id must resolve to its order; returns the `order` objects for cross-checking. */
export async function verifyLookups(what: string, url: string, ids: readonly string[]): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const id of ids) {
    const data = checkOk(`${what} lookup ${id}`, await post(url, lookupBody(id)));
    const order = data.order as Record<string, unknown> | null;
    if (!order || order.orderId !== id) {
      throw new Error(`${what} lookup ${id}: expected the order, got ${JSON.stringify(data).slice(0, 300)}`);
    }
    out.push(order);
  }
  return out;
}

export interface GridCheck {
  readonly name: string;
  readonly totalCount: number;
  readonly edges: number;
  readonly bytes: number;
  /** Time of this one request on an otherwise idle server. */
  readonly ms: number;
}

/** Each variant: a full page (50 edges, or all of a smaller result), customers and payments present. */
export async function verifyGrid(url: string): Promise<GridCheck[]> {
  const checks: GridCheck[] = [];
  for (const variant of GRID_VARIANTS) {
    const started = performance.now();
    const result = await post(url, gridBody(variant));
    const ms = performance.now() - started;
    const data = checkOk(`grid "${variant.name}"`, result);
    const orders = data.orders as { totalCount: number; edges: Array<{ node: Record<string, unknown> }> } | undefined;
    const edges = orders?.edges ?? [];
    const expected = Math.min(50, orders?.totalCount ?? 0);
    const withCustomer = edges.filter((edge) => edge.node.customer !== null && typeof edge.node.customer === 'object').length;
    const withPayments = edges.filter((edge) => Array.isArray(edge.node.payments) && edge.node.payments.length > 0).length;
    if (!orders || expected === 0 || edges.length !== expected || withCustomer !== edges.length || withPayments === 0) {
      throw new Error(
        `grid "${variant.name}": expected ${expected || 'some'} edges with customers and payments, got ` +
          `totalCount ${orders?.totalCount}, ${edges.length} edges, ${withCustomer} with customer, ${withPayments} with payments`,
      );
    }
    checks.push({ name: variant.name, totalCount: orders.totalCount, edges: edges.length, bytes: result.bytes, ms });
  }
  return checks;
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

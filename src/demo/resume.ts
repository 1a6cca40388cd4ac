/**
 * Reads what the demo topics hold through a gateway's GraphQL, as the generator's ResumeState:
 * the highest order number, every customer, every open (CREATED or VALIDATED) order with its
 * payments, and the latest cancelled orders. The caller's `query` decides how fresh the reads
 * are (the demo sends a consistency token of the topics' end offsets). Every read pages with
 * cursors and stops after a bounded number of pages.
 */
import type { ResumeState } from './generator.ts';

/** Runs a GraphQL query and returns its data; throws on errors. */
export type DemoQuery = <T>(query: string, variables: Record<string, unknown>) => Promise<T>;

interface Page<T> {
  edges: Array<{ node: T }>;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

const PAGE = 500;
const MAX_PAGES = 200;

async function readAll<T>(query: DemoQuery, field: string, document: string, variables: Record<string, unknown>, maxPages = MAX_PAGES): Promise<T[]> {
  const rows: T[] = [];
  let after: string | null = null;
  for (let pages = 0; pages < maxPages; pages++) {
    const data: Record<string, Page<T>> = await query<Record<string, Page<T>>>(document, { ...variables, first: PAGE, after });
    const page = data[field]!;
    rows.push(...page.edges.map((edge) => edge.node));
    if (!page.pageInfo.hasNextPage) return rows;
    after = page.pageInfo.endCursor;
  }
  return rows;
}

const CONNECTION = (field: string, args: string, node: string) =>
  `query($first: Int, $after: String) { ${field}(first: $first, after: $after, ${args}) { pageInfo { hasNextPage endCursor } edges { node { ${node} } } } }`;

export async function readResumeState(query: DemoQuery): Promise<ResumeState> {
  const last = await query<{ orders: { edges: Array<{ node: { orderId: string } }> } }>(
    '{ orders(first: 1, orderBy: { field: ORDER_ID, direction: DESC }) { edges { node { orderId } } } }',
    {},
  );
  const customers = await readAll<ResumeState['customers'][number]>(
    query,
    'customers',
    CONNECTION('customers', 'orderBy: { field: CUSTOMER_ID }', 'customerId email tier updatedAt'),
    {},
  );
  const openOrders = await readAll<ResumeState['openOrders'][number]>(
    query,
    'orders',
    CONNECTION(
      'orders',
      'orderBy: { field: ORDER_ID }, filter: { state: { in: [CREATED, VALIDATED] } }',
      'orderId customerId state product quantity unitPrice createdAt updatedAt payments { paymentId status method createdAt }',
    ),
    {},
  );
  const cancelled = await readAll<{ orderId: string; updatedAt: string; payments: Array<{ paymentId: string }> }>(
    query,
    'orders',
    CONNECTION(
      'orders',
      'orderBy: { field: UPDATED_AT, direction: DESC }, filter: { state: { eq: CANCELLED } }',
      'orderId updatedAt payments { paymentId }',
    ),
    {},
    2,
  );
  const lastId = last.orders.edges[0]?.node.orderId;
  return {
    lastOrder: lastId ? Number(lastId.slice(4)) : 0,
    customers,
    openOrders,
    cancelled: cancelled
      .slice(0, 1000)
      .reverse()
      .map((row) => ({ orderId: row.orderId, updatedAt: row.updatedAt, payments: row.payments.length })),
  };
}

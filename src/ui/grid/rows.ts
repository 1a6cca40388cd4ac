/**
 * The grid's rows and their order. A row is an `Order` node as the grid queries it; rows are
 * ordered the way the gateway orders a connection: by the sort field, then by `orderId`, both
 * reversed for DESC. Strings compare by UTF-16 code units, which equals the gateway's UTF-8
 * byte order for the ASCII ids and ISO timestamps of the `orders` view.
 */

export interface OrderRow {
  readonly orderId: string;
  readonly state: string;
  readonly product: string;
  readonly quantity: number;
  readonly unitPrice: number;
  readonly currency: string;
  readonly customerId: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly customer: { readonly name: string; readonly tier: string; readonly country: string } | null;
  readonly payments: ReadonlyArray<{ readonly paymentId: string; readonly status: string; readonly amount: number }>;
}

export type SortField = 'CREATED_AT' | 'UPDATED_AT' | 'ORDER_ID';
export type SortDirection = 'ASC' | 'DESC';

export interface Sort {
  readonly field: SortField;
  readonly direction: SortDirection;
}

/** Conditions of the grid's filter controls; an empty string means "any". */
export interface GridFilter {
  readonly state: string;
  readonly currency: string;
  readonly customerId: string;
}

export const SORT_FIELDS: readonly SortField[] = ['CREATED_AT', 'UPDATED_AT', 'ORDER_ID'];
export const ORDER_STATES = ['CREATED', 'VALIDATED', 'FAILED', 'SHIPPED', 'CANCELLED'] as const;

/** The value a row sorts by. */
export function sortValue(row: OrderRow, field: SortField): string {
  return field === 'CREATED_AT' ? row.createdAt : field === 'UPDATED_AT' ? row.updatedAt : row.orderId;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Orders rows as the `orders` connection does for `sort`. */
export function rowComparator(sort: Sort): (a: OrderRow, b: OrderRow) => number {
  const sign = sort.direction === 'DESC' ? -1 : 1;
  return (a, b) => sign * (compareStrings(sortValue(a, sort.field), sortValue(b, sort.field)) || compareStrings(a.orderId, b.orderId));
}

/** The `filter` argument of the `orders` connection and of `ordersChanged` for the controls. */
export function filterArgument(filter: GridFilter): Record<string, { eq: string }> {
  const out: Record<string, { eq: string }> = {};
  if (filter.state) out['state'] = { eq: filter.state };
  if (filter.currency) out['currency'] = { eq: filter.currency };
  if (filter.customerId) out['customerId'] = { eq: filter.customerId };
  return out;
}

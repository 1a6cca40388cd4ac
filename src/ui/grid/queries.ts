/**
 * The GraphQL documents of the grid page: a page of the `orders` connection (forwards with
 * `first`/`after`, backwards with `last`/`before`), the count alone, and the `ordersChanged`
 * list subscription (no snapshot: `first: 0`; the pages come from the connection).
 */

const ROW_FIELDS = `orderId state product quantity unitPrice currency customerId createdAt updatedAt
  customer { name tier country }
  payments { paymentId status amount }`;

export const PAGE_QUERY = `query GridPage($first: Int, $after: String, $last: Int, $before: String, $orderBy: OrderOrder, $filter: OrderFilter) {
  orders(first: $first, after: $after, last: $last, before: $before, orderBy: $orderBy, filter: $filter) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage }
    edges { cursor node { ${ROW_FIELDS} } }
  }
}`;

export const COUNT_QUERY = `query GridCount($filter: OrderFilter) {
  orders(first: 0, filter: $filter) { totalCount }
}`;

export const CHANGES_SUBSCRIPTION = `subscription GridChanges($orderBy: OrderOrder, $filter: OrderFilter, $after: String) {
  ordersChanged(first: 0, orderBy: $orderBy, filter: $filter, after: $after) {
    kind key token
    node { ${ROW_FIELDS} }
  }
}`;

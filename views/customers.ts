import { defineView } from '../src/views/declaration.ts';

export default defineView({
  name: 'Customer',
  plural: 'customers',
  description: 'A customer account, materialized from the compacted `customers` topic.',
  topic: 'customers',
  key: 'customerId',
  // Every instance holds all customers, so the customer column of an order grid is a local
  // read on any instance (customers are few and small next to orders and payments).
  placement: 'replicated',
  fields: {
    customerId: { type: 'id', description: 'The customer key: the Kafka record key of the `customers` topic.' },
    name: { type: 'string', description: 'Full display name.' },
    // Nullable in GraphQL (every record still has it): callers the field rule below denies get null.
    email: { type: 'string', nullable: true, description: 'Contact e-mail address (in GraphQL, null for callers who may not see it).' },
    tier: {
      type: {
        enum: 'CustomerTier',
        values: ['BRONZE', 'SILVER', 'GOLD', 'PLATINUM'],
        description: 'Loyalty tier of a customer, lowest to highest.',
      },
      description: 'Loyalty tier.',
    },
    country: { type: 'string', pattern: /^[A-Z]{2}$/, description: 'Country of residence, ISO 3166-1 alpha-2.' },
    createdAt: { type: 'timestamp', description: 'When the customer was created (ISO-8601 UTC).' },
    updatedAt: { type: 'timestamp', description: 'When the customer record last changed (ISO-8601 UTC).' },
  },
  sortKeys: ['name', 'createdAt'],
  // customerId (the key) is a filter so the row rule below can restrict a customer to its own row through an index.
  filters: ['tier', 'country', 'customerId'],
  relations: {
    orders: {
      kind: 'many',
      view: 'orders',
      foreignField: 'customerId',
      as: 'connection',
      description: "The customer's orders: a paged connection, sortable and filterable like `Query.orders`.",
    },
  },
  authorization: {
    // A customer's token sees its own customer only (and nothing without a customerId); support,
    // other authenticated callers and callers without claims (client authentication off) see all.
    rows: (claims) => {
      if (claims?.role !== 'customer') return 'all';
      return typeof claims.customerId === 'string' ? { customerId: { eq: claims.customerId } } : 'none';
    },
    fields: {
      // The e-mail address: for support, for the customer itself (whose rows are its own), and
      // without client authentication; other authenticated callers get null.
      email: (claims) => claims === undefined || claims.role === 'support' || claims.role === 'customer',
    },
  },
});

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
    email: { type: 'string', description: 'Contact e-mail address.' },
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
  filters: ['tier', 'country'],
  relations: {
    orders: {
      kind: 'many',
      view: 'orders',
      foreignField: 'customerId',
      as: 'connection',
      description: "The customer's orders: a paged connection, sortable and filterable like `Query.orders`.",
    },
  },
});

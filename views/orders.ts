import { defineView } from '../src/views/declaration.ts';

export default defineView({
  name: 'Order',
  plural: 'orders',
  description: 'A customer order, materialized from the compacted `orders` topic.',
  topic: 'orders',
  key: 'orderId',
  placement: 'partitioned',
  fields: {
    orderId: { type: 'id', description: 'The order key: the Kafka record key of the `orders` topic.' },
    customerId: { type: 'id', description: 'Key of the customer who placed the order.' },
    state: {
      type: {
        enum: 'OrderState',
        values: ['CREATED', 'VALIDATED', 'FAILED', 'SHIPPED', 'CANCELLED'],
        description: 'Lifecycle state of an order.',
      },
      description: 'Current lifecycle state.',
    },
    product: { type: 'string', description: 'Product name.' },
    quantity: { type: 'int', description: 'Number of units ordered.' },
    unitPrice: { type: 'float', description: 'Price of one unit, in `currency`.' },
    currency: { type: 'string', pattern: /^[A-Z]{3}$/, description: 'ISO 4217 currency code of the prices.' },
    createdAt: { type: 'timestamp', description: 'When the order was placed (ISO-8601 UTC).' },
    updatedAt: { type: 'timestamp', description: 'When the order last changed (ISO-8601 UTC).' },
  },
  sortKeys: ['createdAt', 'updatedAt'],
  filters: ['state', 'customerId', 'currency'],
  relations: {
    customer: {
      kind: 'one',
      view: 'customers',
      field: 'customerId',
      description: 'The customer who placed the order (null if that customer is unknown or deleted).',
    },
    payments: {
      kind: 'many',
      view: 'payments',
      foreignField: 'orderId',
      as: 'list',
      description: 'Payments made for the order, oldest first.',
    },
  },
  authorization: {
    // A customer's token sees its own orders only; everyone else (and no claims) sees all.
    rows: (claims) => {
      if (claims?.role !== 'customer') return 'all';
      return typeof claims.customerId === 'string' ? { customerId: { eq: claims.customerId } } : 'none';
    },
  },
});

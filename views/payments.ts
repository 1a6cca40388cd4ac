import { defineView } from '../src/views/declaration.ts';

export default defineView({
  name: 'Payment',
  plural: 'payments',
  description: 'A payment attempt for an order, materialized from the compacted `payments` topic.',
  topic: 'payments',
  key: 'paymentId',
  placement: 'partitioned',
  fields: {
    paymentId: { type: 'id', description: 'The payment key: the Kafka record key of the `payments` topic.' },
    orderId: { type: 'id', description: 'Key of the order this payment is for.' },
    amount: { type: 'float', description: 'Amount charged, in `currency`.' },
    currency: { type: 'string', pattern: /^[A-Z]{3}$/, description: 'ISO 4217 currency code of the amount.' },
    method: {
      type: {
        enum: 'PaymentMethod',
        values: ['CARD', 'BANK_TRANSFER', 'WALLET'],
        description: 'How a payment was made.',
      },
      description: 'Payment method.',
    },
    status: {
      type: {
        enum: 'PaymentStatus',
        values: ['PENDING', 'CAPTURED', 'FAILED', 'REFUNDED'],
        description: 'Settlement status of a payment.',
      },
      description: 'Current settlement status.',
    },
    createdAt: { type: 'timestamp', description: 'When the payment was initiated (ISO-8601 UTC).' },
    updatedAt: { type: 'timestamp', description: 'When the payment last changed (ISO-8601 UTC).' },
  },
  sortKeys: ['createdAt'],
  filters: ['orderId', 'status'],
  relations: {
    order: {
      kind: 'one',
      view: 'orders',
      field: 'orderId',
      description: 'The order this payment is for (null if that order is unknown or deleted).',
    },
  },
  authorization: {
    // A payment is visible iff its order is, under the orders rule: a customer's token sees the
    // payments of its own orders (their keys become an `orderId in [...]` filter).
    rows: { via: 'order' },
  },
});

/** Small, explicit record builders for integration tests (the demo generator is tested apart). */
export const ORDER_STATES = ['CREATED', 'VALIDATED', 'FAILED', 'SHIPPED', 'CANCELLED'] as const;
export const CURRENCIES = ['EUR', 'USD', 'GBP'] as const;

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

const BASE = Date.parse('2026-01-01T00:00:00.000Z');

export function customer(n: number, overrides: Record<string, unknown> = {}) {
  const id = `cus-${String(n).padStart(5, '0')}`;
  return {
    customerId: id,
    name: `Customer ${String(n).padStart(5, '0')}`,
    email: `c${n}@example.com`,
    tier: (['BRONZE', 'SILVER', 'GOLD', 'PLATINUM'] as const)[n % 4],
    country: (['DE', 'US', 'GB', 'FR'] as const)[n % 4],
    createdAt: iso(BASE + n * 1000),
    updatedAt: iso(BASE + n * 1000),
    ...overrides,
  };
}

export function order(n: number, overrides: Record<string, unknown> = {}) {
  return {
    orderId: `ord-${String(n).padStart(6, '0')}`,
    customerId: `cus-${String(n % 50).padStart(5, '0')}`,
    state: ORDER_STATES[n % ORDER_STATES.length],
    product: `Product ${n % 17}`,
    quantity: 1 + (n % 3),
    unitPrice: Math.round((5 + ((n * 37) % 200)) * 100) / 100,
    currency: CURRENCIES[n % CURRENCIES.length],
    // Several orders share a createdAt so the key tie-break matters.
    createdAt: iso(BASE + Math.floor(n / 3) * 60_000),
    updatedAt: iso(BASE + Math.floor(n / 3) * 60_000 + (n % 7) * 1000),
    ...overrides,
  };
}

export function payment(orderN: number, attempt: number, overrides: Record<string, unknown> = {}) {
  const o = order(orderN);
  return {
    paymentId: `pay-${String(orderN).padStart(6, '0')}-${attempt}`,
    orderId: o.orderId,
    amount: Math.round(o.quantity * o.unitPrice * 100) / 100,
    currency: o.currency,
    method: (['CARD', 'BANK_TRANSFER', 'WALLET'] as const)[orderN % 3],
    status: attempt === 1 && orderN % 4 === 0 ? 'FAILED' : 'CAPTURED',
    createdAt: iso(Date.parse(o.createdAt) + attempt * 5000),
    updatedAt: iso(Date.parse(o.createdAt) + attempt * 5000),
    ...overrides,
  };
}

export function keyed<T extends Record<string, unknown>>(key: keyof T, value: T) {
  return { key: String(value[key]), value: JSON.stringify(value) };
}

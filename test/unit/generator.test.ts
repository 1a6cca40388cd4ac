import { describe, expect, it } from 'vitest';
import { COUNTRIES } from '../../src/demo/catalog.ts';
import { createDataGenerator, iso } from '../../src/demo/generator.ts';
import type { DataGenerator, GeneratedRecord, ResumeState } from '../../src/demo/generator.ts';

const START = Date.UTC(2025, 5, 1, 12, 0, 0);
const CURRENCY_OF = new Map(COUNTRIES.map(([country, currency]) => [country, currency as string]));
const ORDER_NEXT: Record<string, readonly string[]> = {
  CREATED: ['VALIDATED', 'FAILED'],
  VALIDATED: ['SHIPPED', 'CANCELLED'],
  FAILED: [],
  SHIPPED: [],
  CANCELLED: [],
};
const PAYMENT_NEXT: Record<string, readonly string[]> = {
  PENDING: ['CAPTURED', 'FAILED'],
  CAPTURED: ['REFUNDED'],
  FAILED: [],
  REFUNDED: [],
};
const OPEN = new Set(['CREATED', 'VALIDATED']);
const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

type Value = Record<string, unknown>;
const flat = (chunks: Iterable<GeneratedRecord[]>): GeneratedRecord[] => [...chunks].flat();
const ms = (v: Value, field: string): number => Date.parse(v[field] as string);
const cents = (x: number): boolean => Math.round(x * 100) / 100 === x;

const FIELDS: Record<string, string> = {
  customers: 'country,createdAt,customerId,email,name,tier,updatedAt',
  orders: 'createdAt,currency,customerId,orderId,product,quantity,state,unitPrice,updatedAt',
  payments: 'amount,createdAt,currency,method,orderId,paymentId,status,updatedAt',
};
const TIERS = ['BRONZE', 'SILVER', 'GOLD', 'PLATINUM'];

/** Collects violations instead of calling expect() per field: keeps checking ~100k records fast. */
class Checker {
  problems: string[] = [];
  need(ok: boolean, what: () => string): void {
    if (!ok && this.problems.length < 20) this.problems.push(what());
  }
}

/** Checks every record against the data contract and referential integrity, in stream order. */
class ContractChecker extends Checker {
  customers = new Map<string, Value>();
  orders = new Map<string, Value>();
  payments = new Map<string, Value>();

  check(rec: GeneratedRecord, maxTime: number): void {
    const v = rec.value;
    const need = (ok: boolean, what: string) => this.need(ok, () => `${rec.key}: ${what} in ${JSON.stringify(v)}`);
    if (v === null) return;
    need(Object.keys(v).sort().join(',') === FIELDS[rec.topic], 'fields');
    for (const f of ['createdAt', 'updatedAt']) {
      need(typeof v[f] === 'string' && ISO_RE.test(v[f]) && new Date(v[f]).toISOString() === v[f], `${f} not ISO`);
    }
    need(ms(v, 'updatedAt') >= ms(v, 'createdAt'), 'updatedAt < createdAt');
    need(ms(v, 'updatedAt') <= maxTime, 'updatedAt in the future');
    if (rec.topic === 'customers') {
      need(/^cus-\d{6}$/.test(rec.key) && v.customerId === rec.key, 'customer id');
      need(typeof v.name === 'string' && / /.test(v.name), 'name');
      need(typeof v.email === 'string' && /^[a-z0-9.]+@[a-z0-9.-]+\.[a-z]+$/.test(v.email), 'email');
      need(TIERS.includes(v.tier as string), 'tier');
      need(CURRENCY_OF.has(v.country as string), 'country');
      this.customers.set(rec.key, v);
    } else if (rec.topic === 'orders') {
      need(/^ord-\d{10}$/.test(rec.key) && v.orderId === rec.key, 'order id');
      need(ORDER_NEXT[v.state as string] !== undefined, 'state');
      const customer = this.customers.get(v.customerId as string);
      need(customer !== undefined, 'unknown customer');
      need(v.currency === CURRENCY_OF.get(customer?.country as string), 'currency does not match country');
      need(typeof v.product === 'string' && v.product.length > 0, 'product');
      need(Number.isInteger(v.quantity) && (v.quantity as number) >= 1, 'quantity');
      need(typeof v.unitPrice === 'number' && v.unitPrice > 0 && cents(v.unitPrice), 'unitPrice');
      this.orders.set(rec.key, v);
    } else {
      need(/^pay-\d{10}-\d$/.test(rec.key) && v.paymentId === rec.key, 'payment id');
      need(rec.key.slice(4, 14) === (v.orderId as string).slice(4), 'payment id vs order id');
      const order = this.orders.get(v.orderId as string);
      need(order !== undefined, 'payment before its order');
      if (!order) return;
      need(v.currency === order.currency, 'currency');
      need(v.amount === Math.round((order.quantity as number) * (order.unitPrice as number) * 100) / 100, 'amount');
      need(['CARD', 'BANK_TRANSFER', 'WALLET'].includes(v.method as string), 'method');
      need(PAYMENT_NEXT[v.status as string] !== undefined, 'status');
      need(ms(v, 'createdAt') >= ms(order, 'createdAt'), 'payment older than order');
      this.payments.set(rec.key, v);
    }
  }
}

/** Follows live traffic per key: only legal transitions, tombstones only for CANCELLED orders. */
class TransitionChecker extends Checker {
  orderState = new Map<string, string | null>(); // null = tombstoned
  paymentStatus = new Map<string, string | null>();
  customerTier = new Map<string, number>();
  updatedAt = new Map<string, number>();
  seen = new Map<string, number>();
  latestPayment = new Map<string, [number, string]>(); // order key -> [attempt, status]
  open = 0;

  constructor(history: Iterable<GeneratedRecord>) {
    super();
    for (const r of history) this.remember(r);
  }
  private remember(r: GeneratedRecord): void {
    if (r.value === null) return;
    this.updatedAt.set(r.key, Date.parse(r.value.updatedAt as string));
    if (r.topic === 'orders') {
      const prev = this.orderState.get(r.key);
      this.open += Number(OPEN.has(r.value.state as string)) - Number(prev != null && OPEN.has(prev));
      this.orderState.set(r.key, r.value.state as string);
    }
    if (r.topic === 'payments') {
      this.paymentStatus.set(r.key, r.value.status as string);
      const attempt = Number(r.key.slice(15));
      const order = r.value.orderId as string;
      if (attempt >= (this.latestPayment.get(order)?.[0] ?? 0)) this.latestPayment.set(order, [attempt, r.value.status as string]);
    }
    if (r.topic === 'customers') this.customerTier.set(r.key, TIERS.indexOf(r.value.tier as string));
  }
  private count(kind: string): void {
    this.seen.set(kind, (this.seen.get(kind) ?? 0) + 1);
  }

  check(r: GeneratedRecord): void {
    const v = r.value;
    const need = (ok: boolean, what: string) => this.need(ok, () => `${r.key}: ${what} in ${JSON.stringify(v)}`);
    if (v === null) {
      const orderKey = r.topic === 'payments' ? `ord-${r.key.slice(4, 14)}` : r.key;
      need(r.topic !== 'customers' && this.orderState.get(orderKey) === 'CANCELLED', 'tombstone of a non-CANCELLED order');
      need((r.topic === 'orders' ? this.orderState : this.paymentStatus).get(r.key) != null, 'tombstone of unknown key');
      (r.topic === 'orders' ? this.orderState : this.paymentStatus).set(r.key, null);
      this.count(`${r.topic}:tombstone`);
      return;
    }
    const prevUpdated = this.updatedAt.get(r.key);
    need(prevUpdated === undefined || Date.parse(v.updatedAt as string) >= prevUpdated, 'updatedAt went back');
    if (r.topic === 'orders') {
      const prev = this.orderState.get(r.key);
      need(prev !== null, 'order revived after tombstone');
      if (prev === undefined) need(v.state === 'CREATED', 'new live order not CREATED');
      else if (prev !== null) need(ORDER_NEXT[prev]?.includes(v.state as string) === true, `illegal ${prev} -> ${String(v.state)}`);
      // validation means its latest payment was captured; a failed order has no successful payment
      if (v.state === 'VALIDATED') need(this.latestPayment.get(r.key)?.[1] === 'CAPTURED', 'validated without capture');
      if (v.state === 'FAILED') need([undefined, 'FAILED'].includes(this.latestPayment.get(r.key)?.[1]), 'failed but paid');
      this.count(`orders:${String(v.state)}`);
    } else if (r.topic === 'payments') {
      const prev = this.paymentStatus.get(r.key);
      need(prev !== null, 'payment revived after tombstone');
      if (prev === undefined) {
        need(v.status === 'PENDING', 'new live payment not PENDING');
        need(this.orderState.get(v.orderId as string) === 'CREATED', 'new payment for an order not CREATED');
      } else if (prev !== null) need(PAYMENT_NEXT[prev]?.includes(v.status as string) === true, `illegal ${prev} -> ${String(v.status)}`);
      this.count(`payments:${String(v.status)}`);
    } else {
      const prevTier = this.customerTier.get(r.key);
      need(prevTier !== undefined, 'unknown customer');
      need(TIERS.indexOf(v.tier as string) >= (prevTier ?? 0), 'tier downgrade');
      this.count('customers:update');
    }
    this.remember(r);
  }
}

function run(g: DataGenerator, ticks: number, perTick: number, step = 1000): GeneratedRecord[][] {
  return Array.from({ length: ticks }, (_, i) => g.tick(START + (i + 1) * step, perTick));
}

describe('iso', () => {
  it('matches Date#toISOString', () => {
    const samples = [0, 999, 59_999, 60_000, 86_399_999, 86_400_000, Date.UTC(2024, 1, 29, 23, 59, 59, 999), START];
    for (let i = 0; i < 5000; i++) samples.push(Math.floor(Math.random() * 4e12));
    for (const t of samples) expect(iso(t)).toBe(new Date(t).toISOString());
  });
});

describe('createDataGenerator', () => {
  it('is deterministic per seed', () => {
    const out = (seed: number) => {
      const g = createDataGenerator({ seed, customers: 200, startTime: START });
      return [g.customers(), flat(g.history(3000, { chunk: 700 })), run(g, 50, 40)];
    };
    expect(out(42)).toEqual(out(42));
    expect(JSON.stringify(out(42))).not.toBe(JSON.stringify(out(43)));
    // history does not depend on whether customers() was called
    const g = createDataGenerator({ seed: 42, customers: 200, startTime: START });
    expect(flat(g.history(3000))).toEqual(out(42)[1]);
  });

  it('emits customers and history that satisfy the contract', () => {
    const g = createDataGenerator({ seed: 5, customers: 500, startTime: START });
    const check = new ContractChecker();
    const customers = g.customers();
    expect(customers).toHaveLength(500);
    for (const r of customers) check.check(r, START);
    const chunks = [...g.history(20_000, { days: 30, chunk: 4096 })];
    expect(chunks.length).toBe(5);
    let lastOrder = '';
    for (const r of chunks.flat()) {
      check.check(r, START);
      check.need(r.value !== null, () => `tombstone in history: ${r.key}`);
      if (r.topic !== 'orders') continue;
      check.need(r.key > lastOrder, () => `order ids not unique and increasing: ${lastOrder}, ${r.key}`);
      lastOrder = r.key;
    }
    expect(check.problems).toEqual([]);
    expect(check.orders.size).toBe(20_000);
    expect(lastOrder).toBe('ord-0000020000');

    // state mix (~70% SHIPPED, 10% CANCELLED, 8% FAILED, the rest open) and payments per order
    const states = new Map<string, number>();
    for (const o of check.orders.values()) states.set(o.state as string, (states.get(o.state as string) ?? 0) + 1);
    const share = (s: string) => (states.get(s) ?? 0) / 20_000;
    expect(share('SHIPPED')).toBeGreaterThan(0.62);
    expect(share('SHIPPED')).toBeLessThan(0.8);
    expect(share('CANCELLED')).toBeGreaterThan(0.07);
    expect(share('CANCELLED')).toBeLessThan(0.13);
    expect(share('FAILED')).toBeGreaterThan(0.06);
    expect(share('FAILED')).toBeLessThan(0.11);
    expect(share('VALIDATED') + share('CREATED')).toBeGreaterThan(0.04);
    const byOrder = new Map<string, Value[]>();
    for (const p of check.payments.values()) {
      const list = byOrder.get(p.orderId as string) ?? [];
      list.push(p);
      byOrder.set(p.orderId as string, list);
    }
    let retries = 0;
    let refundedShipped = 0;
    for (const [key, o] of check.orders) {
      const pays = byOrder.get(key) ?? [];
      const last = pays.at(-1)?.status;
      const need = (ok: boolean, what: string) => check.need(ok, () => `${key} ${String(o.state)}: ${what} ${JSON.stringify(pays)}`);
      need(pays.length <= 2, 'more than 2 payments');
      if (pays.length === 2) {
        retries++;
        need(pays[0]?.status === 'FAILED', 'first of two payments not FAILED');
      }
      if (o.state === 'FAILED')
        need(
          pays.every((p) => p.status === 'FAILED'),
          'FAILED order with a non-failed payment',
        );
      if (o.state === 'VALIDATED') need(last === 'CAPTURED', 'VALIDATED without capture');
      if (o.state === 'SHIPPED' || o.state === 'CANCELLED') need(last === 'CAPTURED' || last === 'REFUNDED', 'unpaid');
      if (o.state === 'SHIPPED' && last === 'REFUNDED') refundedShipped++;
      if (o.state === 'CREATED') need(last === undefined || last === 'PENDING', 'CREATED with a resolved payment');
    }
    expect(check.problems).toEqual([]);
    expect(retries / 20_000).toBeGreaterThan(0.03);
    expect(refundedShipped).toBeGreaterThan(0);
    // skewed activity: the busiest 1% of customers place far more than 1% of orders
    const perCustomer = new Map<string, number>();
    for (const o of check.orders.values()) perCustomer.set(o.customerId as string, (perCustomer.get(o.customerId as string) ?? 0) + 1);
    const top = [...perCustomer.values()]
      .sort((a, b) => b - a)
      .slice(0, 5)
      .reduce((a, b) => a + b, 0);
    expect(top / 20_000).toBeGreaterThan(0.08);
    // most customers are BRONZE, the US is the largest market, quantities are mostly 1-3
    const tiers = [...check.customers.values()].filter((c) => c.tier === 'BRONZE').length / 500;
    expect(tiers).toBeGreaterThan(0.45);
    const us = [...check.customers.values()].filter((c) => c.country === 'US').length / 500;
    expect(us).toBeGreaterThan(0.2);
    const small = [...check.orders.values()].filter((o) => (o.quantity as number) <= 3).length / 20_000;
    expect(small).toBeGreaterThan(0.85);
  });

  it('produces legal live transitions that satisfy the contract', () => {
    const g = createDataGenerator({ seed: 9, customers: 300, startTime: START });
    const contract = new ContractChecker();
    const history = [...g.customers(), ...flat(g.history(5000))];
    for (const r of history) contract.check(r, START);
    const transitions = new TransitionChecker(history);
    let now = START;
    for (let i = 0; i < 600; i++) {
      now += 5000;
      const batch = g.tick(now, 100);
      contract.need(batch.length === 100, () => `tick returned ${batch.length} records`);
      for (const r of batch) {
        contract.check(r, now);
        transitions.check(r);
      }
    }
    expect(contract.problems).toEqual([]);
    expect(transitions.problems).toEqual([]);
    for (const kind of [
      'orders:CREATED',
      'orders:VALIDATED',
      'orders:FAILED',
      'orders:SHIPPED',
      'orders:CANCELLED',
      'payments:PENDING',
      'payments:CAPTURED',
      'payments:FAILED',
      'payments:REFUNDED',
      'customers:update',
      'orders:tombstone',
      'payments:tombstone',
    ]) {
      expect(transitions.seen.get(kind) ?? 0, kind).toBeGreaterThan(0);
    }
  });

  it('handles a live-only start and a clock that does not advance every tick', () => {
    const g = createDataGenerator({ seed: 3, customers: 50, startTime: START });
    const contract = new ContractChecker();
    const customers = g.customers();
    for (const r of customers) contract.check(r, START);
    const transitions = new TransitionChecker(customers);
    for (let i = 0; i < 300; i++) {
      const now = START + Math.floor(i / 10) * 1000; // ten ticks per simulated second
      for (const r of g.tick(now, 7)) {
        contract.check(r, now);
        transitions.check(r);
      }
    }
    expect(contract.problems).toEqual([]);
    expect(transitions.problems).toEqual([]);
    expect(g.tick(START + 60_000, 0)).toEqual([]);
  });

  it('keeps the number of open orders bounded', () => {
    for (const cap of [3, 40]) {
      const g = createDataGenerator({ seed: cap, customers: 100, startTime: START, maxOpenOrders: cap });
      const history = [...g.customers(), ...flat(g.history(3000, { days: 2 }))];
      const transitions = new TransitionChecker(history);
      expect(transitions.open).toBeLessThanOrEqual(cap);
      let peak = 0;
      for (const batch of run(g, 2000, 20)) {
        for (const r of batch) {
          transitions.check(r);
          peak = Math.max(peak, transitions.open);
        }
      }
      expect(transitions.problems).toEqual([]);
      expect(peak).toBeLessThanOrEqual(cap);
      expect(peak).toBeGreaterThan(cap / 2);
      expect(transitions.seen.get('orders:CREATED') ?? 0).toBeGreaterThan(1000);
    }
  });
});

/** What compacted topics hold after `records`: the latest value per key, tombstoned keys gone. */
function compacted(records: Iterable<GeneratedRecord>): Map<string, GeneratedRecord> {
  const latest = new Map<string, GeneratedRecord>();
  for (const r of records) {
    if (r.value === null) latest.delete(`${r.topic}/${r.key}`);
    else latest.set(`${r.topic}/${r.key}`, r);
  }
  return latest;
}

/** The ResumeState a gateway would report for `topics` (as src/demo/resume.ts reads it). */
function resumeStateOf(topics: Map<string, GeneratedRecord>): ResumeState {
  const rows = (topic: string) => [...topics.values()].filter((r) => r.topic === topic).map((r) => r.value as Value);
  const orders = rows('orders').sort((a, b) => String(a.orderId).localeCompare(String(b.orderId)));
  const paymentsOf = (orderId: unknown) => rows('payments').filter((p) => p.orderId === orderId);
  return {
    lastOrder: Math.max(0, ...orders.map((o) => Number(String(o.orderId).slice(4)))),
    customers: rows('customers').map((c) => ({
      customerId: String(c.customerId),
      email: String(c.email),
      tier: String(c.tier),
      updatedAt: String(c.updatedAt),
    })),
    openOrders: orders
      .filter((o) => OPEN.has(o.state as string))
      .map((o) => ({
        orderId: String(o.orderId),
        customerId: String(o.customerId),
        state: String(o.state),
        product: String(o.product),
        quantity: o.quantity as number,
        unitPrice: o.unitPrice as number,
        createdAt: String(o.createdAt),
        updatedAt: String(o.updatedAt),
        payments: paymentsOf(o.orderId).map((p) => ({
          paymentId: String(p.paymentId),
          status: String(p.status),
          method: String(p.method),
          createdAt: String(p.createdAt),
        })),
      })),
    cancelled: orders
      .filter((o) => o.state === 'CANCELLED')
      .sort((a, b) => ms(b, 'updatedAt') - ms(a, 'updatedAt'))
      .slice(0, 1000)
      .reverse()
      .map((o) => ({ orderId: String(o.orderId), payments: paymentsOf(o.orderId).length, updatedAt: String(o.updatedAt) })),
  };
}

describe('a generator resumed from what the topics hold', () => {
  it('continues every order, payment and customer from its state: nothing goes back, no id is reused', () => {
    const first = createDataGenerator({ seed: 42, customers: 300, startTime: START });
    const before = [...first.customers(), ...flat(first.history(4000, { days: 10 })), ...run(first, 300, 40).flat()];
    const topics = compacted(before);
    const state = resumeStateOf(topics);
    expect(state.openOrders.length).toBeGreaterThan(20);
    expect(state.cancelled.length).toBeGreaterThan(20);

    // A restart: the same seed, so the same customers and the same live random stream as the first run.
    const restarted = createDataGenerator({ seed: 42, customers: 300, startTime: START });
    restarted.resume(state);
    const transitions = new TransitionChecker(topics.values());
    const contract = new ContractChecker();
    for (const r of topics.values()) if (r.topic !== 'payments') contract.check(r, Number.MAX_SAFE_INTEGER);
    for (const r of topics.values()) if (r.topic === 'payments') contract.check(r, Number.MAX_SAFE_INTEGER);
    const later = START + 3_600_000;
    for (const [i, batch] of run(restarted, 400, 40).entries()) {
      for (const r of batch) {
        transitions.check(r);
        contract.check(r, later + (i + 1) * 1000);
      }
    }
    expect(transitions.problems).toEqual([]);
    expect(contract.problems).toEqual([]);
    // Open orders moved on, new orders came after the last one, cancelled orders were deleted.
    expect(transitions.seen.get('orders:SHIPPED') ?? 0).toBeGreaterThan(10);
    expect(transitions.seen.get('orders:tombstone') ?? 0).toBeGreaterThan(0);
    expect(transitions.seen.get('customers:update') ?? 0).toBeGreaterThan(0);
  });

  it('without resume, the same restart would take orders back to CREATED', () => {
    const first = createDataGenerator({ seed: 42, customers: 300, startTime: START });
    const before = [...first.customers(), ...flat(first.history(4000, { days: 10 })), ...run(first, 300, 40).flat()];
    const restarted = createDataGenerator({ seed: 42, customers: 300, startTime: START });
    const transitions = new TransitionChecker(compacted(before).values());
    for (const batch of run(restarted, 100, 40)) for (const r of batch) transitions.check(r);
    expect(transitions.problems.join('\n')).toMatch(/illegal \w+ -> CREATED|order revived after tombstone/);
  });
});

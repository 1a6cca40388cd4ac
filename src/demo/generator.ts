// Deterministic (seeded) generator of demo business data for the compacted topics
// `customers`, `orders` and `payments`. Pure: it only returns records. One unit: the order
// life cycle (states, payment attempts, cancellations) is one state machine over one PRNG.
import {
  BANKY_COUNTRIES,
  COUNTRIES,
  EMAIL_DOMAINS,
  FIRST_NAMES,
  LAST_NAMES,
  METHOD_WEIGHTS,
  METHOD_WEIGHTS_BANKY,
  METHODS,
  PRODUCTS,
  QUANTITY_WEIGHTS,
  TIER_WEIGHTS,
  TIERS,
  USD_RATE,
} from './catalog.ts';
import type { Currency, PaymentMethod, Tier } from './catalog.ts';

export type TopicName = 'customers' | 'orders' | 'payments';
export interface GeneratedRecord {
  topic: TopicName;
  key: string;
  value: Record<string, unknown> | null;
}
export interface DataGeneratorOptions {
  seed?: number;
  /** Number of customers (default 10 000). */
  customers?: number;
  /** End of history / start of live traffic, epoch ms (default 2025-01-01T00:00:00Z, for determinism). */
  startTime?: number;
  /** Cap on open (CREATED/VALIDATED) orders kept in memory (default 50 000); the oldest get finalized. */
  maxOpenOrders?: number;
}
/**
 * What the topics hold, for live traffic that continues them (`resume`): the generator's own
 * records as a compacted topic keeps them (latest value per key).
 */
export interface ResumeState {
  /** Highest order number the topics hold (`ord-<number>`); new orders get higher numbers. */
  readonly lastOrder: number;
  /** Customers as they are now (name and country never change; tier, e-mail and updatedAt do). */
  readonly customers: ReadonlyArray<{ customerId: string; email: string; tier: string; updatedAt: string }>;
  /** Orders still CREATED or VALIDATED, oldest first, with their payments (any order). */
  readonly openOrders: ReadonlyArray<{
    orderId: string;
    customerId: string;
    state: string;
    product: string;
    quantity: number;
    unitPrice: number;
    createdAt: string;
    updatedAt: string;
    payments: ReadonlyArray<{ paymentId: string; status: string; method: string; createdAt: string }>;
  }>;
  /** The most recently cancelled orders (up to 1000), oldest first, and how many payments each has. */
  readonly cancelled: ReadonlyArray<{ orderId: string; payments: number; updatedAt: string }>;
}

export interface DataGenerator {
  /** All customers, once (call first). */
  customers(): GeneratedRecord[];
  /**
   * Instead of `history`: live traffic continues from what the topics hold. New orders are
   * numbered after `lastOrder`, open orders move on from their state, customers from their tier,
   * and tombstones fall on orders the topics hold as CANCELLED.
   */
  resume(state: ResumeState): void;
  /** Bulk history: `orders` orders with their state as of `startTime` and their payments, created over the
   * past `days` (default 30). Yields one array per `chunk` orders (default 1000). */
  history(orders: number, options?: { days?: number; chunk?: number }): Iterable<GeneratedRecord[]>;
  /** Live traffic: exactly `count` records at simulated time `now` (epoch ms). Records of an event that
   * do not fit are carried over to the next tick. */
  tick(now: number, count: number): GeneratedRecord[];
}

type OrderState = 'CREATED' | 'VALIDATED' | 'FAILED' | 'SHIPPED' | 'CANCELLED';
type PaymentStatus = 'PENDING' | 'CAPTURED' | 'FAILED' | 'REFUNDED';
interface Customer {
  key: string;
  first: string;
  last: string;
  no: number;
  email: string;
  tier: Tier;
  country: string;
  currency: Currency;
  createdAt: number;
  updatedAt: number;
}
interface Order {
  id: number;
  key: string;
  customer: Customer;
  product: string;
  quantity: number;
  unitCents: number;
  createdAt: number;
  updatedAt: number;
  state: OrderState;
  /** Payments emitted so far; the current one is number `payCount`. */
  payCount: number;
  payStatus: PaymentStatus | null;
  payCreatedAt: number;
  method: PaymentMethod;
  open: boolean;
}
interface Cancelled {
  key: string;
  payCount: number;
  at: number;
}

const MIN = 60_000;
const DAY = 86_400_000;
const TOMBSTONE_RING = 1000;

/** mulberry32: small, fast, good enough 32-bit PRNG. Returns floats in [0, 1). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
/** Derive independent stream seeds from the user seed (murmur3 finalizer). */
function mix(seed: number, stream: number): number {
  let h = (Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(stream, 0x85ebca6b)) | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
function cumulative(weights: readonly number[]): Float64Array {
  const out = new Float64Array(weights.length);
  let sum = 0;
  weights.forEach((w, i) => {
    sum += w;
    out[i] = sum;
  });
  return out.map((c) => c / sum);
}
function weighted(cum: Float64Array, u: number): number {
  let i = 0;
  while (i < cum.length - 1 && u >= (cum[i] as number)) i++;
  return i;
}
function at<T>(list: readonly T[], i: number): T {
  return list[i] as T;
}
// Date#toISOString costs ~1 µs and history formats millions of timestamps: cache "YYYY-MM-DDTHH:MM:" per
// minute and "SS.mmmZ" per millisecond-of-minute, so a timestamp is one string concatenation.
const minutePrefix = new Map<number, string>();
let secondMs: string[] | undefined; // packed array of all 60 000 "SS.mmmZ", built on first use
/** Same result as `new Date(ms).toISOString()` for integer ms >= 0. */
export function iso(time: number): string {
  const ms = Math.trunc(time);
  const minute = Math.floor(ms / MIN);
  let prefix = minutePrefix.get(minute);
  if (prefix === undefined) {
    if (minutePrefix.size >= 65_536) minutePrefix.clear();
    prefix = new Date(minute * MIN).toISOString().slice(0, 17);
    minutePrefix.set(minute, prefix);
  }
  secondMs ??= Array.from({ length: MIN }, (_, i) => `${String(Math.floor(i / 1000)).padStart(2, '0')}.${String(i % 1000).padStart(3, '0')}Z`);
  return prefix + at(secondMs, ms - minute * MIN);
}
const ascii = (s: string): string =>
  s
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^A-Za-z]/g, '')
    .toLowerCase();

const COUNTRY_CUM = cumulative(COUNTRIES.map((c) => c[2]));
const TIER_CUM = cumulative(TIER_WEIGHTS);
const METHOD_CUM = cumulative(METHOD_WEIGHTS);
const METHOD_CUM_BANKY = cumulative(METHOD_WEIGHTS_BANKY);
const PRODUCT_CUM = cumulative(PRODUCTS.map((p) => p[3]));
const QUANTITY_CUM = cumulative(QUANTITY_WEIGHTS);

function customerRecord(c: Customer): GeneratedRecord {
  return {
    topic: 'customers',
    key: c.key,
    value: {
      customerId: c.key,
      name: `${c.first} ${c.last}`,
      email: c.email,
      tier: c.tier,
      country: c.country,
      createdAt: iso(c.createdAt),
      updatedAt: iso(c.updatedAt),
    },
  };
}
function orderRecord(o: Order): GeneratedRecord {
  return {
    topic: 'orders',
    key: o.key,
    value: {
      orderId: o.key,
      customerId: o.customer.key,
      state: o.state,
      product: o.product,
      quantity: o.quantity,
      unitPrice: o.unitCents / 100,
      currency: o.customer.currency,
      createdAt: iso(o.createdAt),
      updatedAt: iso(o.updatedAt),
    },
  };
}
function paymentRecord(o: Order, n: number, status: PaymentStatus, createdAt: number, updatedAt: number): GeneratedRecord {
  const key = `pay-${o.key.slice(4)}-${n}`;
  return {
    topic: 'payments',
    key,
    value: {
      paymentId: key,
      orderId: o.key,
      amount: (o.quantity * o.unitCents) / 100,
      currency: o.customer.currency,
      method: o.method,
      status,
      createdAt: iso(createdAt),
      updatedAt: iso(updatedAt),
    },
  };
}

export function createDataGenerator(options: DataGeneratorOptions = {}): DataGenerator {
  const seed = options.seed ?? 1;
  const start = options.startTime ?? Date.UTC(2025, 0, 1);
  const cap = Math.max(1, options.maxOpenOrders ?? 50_000);
  const openTarget = Math.max(1, Math.min(Math.ceil(cap / 2), 2000));
  const rc = prng(mix(seed, 1)); // customers
  const rh = prng(mix(seed, 2)); // history
  const rl = prng(mix(seed, 3)); // live

  // --- customers: built eagerly so history/tick output does not depend on calling customers() ---
  const people: Customer[] = [];
  for (let i = 1, n = Math.max(1, options.customers ?? 10_000); i <= n; i++) {
    const [country, currency] = at(COUNTRIES, weighted(COUNTRY_CUM, rc()));
    const first = at(FIRST_NAMES, Math.floor(rc() * FIRST_NAMES.length));
    const last = at(LAST_NAMES, Math.floor(rc() * LAST_NAMES.length));
    const createdAt = start - DAY - Math.floor(rc() ** 0.6 * 729 * DAY); // past two years, skewed older
    people.push({
      key: `cus-${String(i).padStart(6, '0')}`,
      first,
      last,
      no: i,
      country,
      currency,
      createdAt,
      email: `${ascii(first)}.${ascii(last)}${i}@${at(EMAIL_DOMAINS, Math.floor(rc() * EMAIL_DOMAINS.length))}`,
      tier: at(TIERS, weighted(TIER_CUM, rc())),
      updatedAt: createdAt + Math.floor(rc() * (start - createdAt) * 0.5),
    });
  }
  // Activity rank -> customer: a seeded shuffle, so the busiest customers are not simply the first ids.
  const byActivity = people.slice();
  for (let i = byActivity.length - 1; i > 0; i--) {
    const j = Math.floor(rc() * (i + 1));
    [byActivity[i], byActivity[j]] = [at(byActivity, j), at(byActivity, i)];
  }
  const oldest = people.reduce((a, b) => (b.createdAt < a.createdAt ? b : a));
  /** Power-law activity: P(rank < x*n) = x^(1/3), so the top 1% of customers place ~20% of orders. */
  const activeCustomer = (r: () => number): Customer => {
    const u = r();
    return at(byActivity, Math.floor(u * u * u * byActivity.length));
  };

  // --- shared order state ---
  let seq = 0;
  let open: Order[] = []; // insertion (= id) order; closed entries are compacted away lazily
  let openCount = 0;
  let head = 0;
  const cancelled: Cancelled[] = [];
  let carry: GeneratedRecord[] = [];

  function newOrder(r: () => number, customer: Customer, createdAt: number): Order {
    const [product, lo, hi] = at(PRODUCTS, weighted(PRODUCT_CUM, r()));
    const price = (lo + r() * (hi - lo)) * USD_RATE[customer.currency];
    const unitCents = customer.currency === 'JPY' ? Math.round(price / 10) * 1000 : Math.floor(price) * 100 + 99;
    const id = ++seq;
    return {
      id,
      key: `ord-${String(id).padStart(10, '0')}`,
      customer,
      product,
      unitCents,
      createdAt,
      updatedAt: createdAt,
      quantity: weighted(QUANTITY_CUM, r()) + 1,
      state: 'CREATED',
      payCount: 0,
      payStatus: null,
      payCreatedAt: createdAt,
      method: pickMethod(r, customer),
      open: false,
    };
  }
  function pickMethod(r: () => number, c: Customer): PaymentMethod {
    return at(METHODS, weighted(BANKY_COUNTRIES.has(c.country) ? METHOD_CUM_BANKY : METHOD_CUM, r()));
  }
  /** Registers an open order, first finalizing the oldest one if at the cap (emit `o` after this). */
  function addOpen(o: Order, ts: number, out: GeneratedRecord[]): void {
    if (openCount >= cap) {
      while (!at(open, head).open) head++;
      finalize(at(open, head), ts, out);
    }
    o.open = true;
    open.push(o);
    openCount++;
  }
  function close(o: Order): void {
    o.open = false;
    openCount--;
    if (open.length > 64 && openCount < open.length / 2) {
      open = open.filter((x) => x.open);
      head = 0;
    } // <= 2*cap+64
  }
  /** Evicted from memory: fail a CREATED order (and its pending payment), ship a VALIDATED one. */
  function finalize(o: Order, now: number, out: GeneratedRecord[]): void {
    const ts = Math.max(now, o.updatedAt, o.payCreatedAt);
    if (o.state === 'CREATED' && o.payStatus === 'PENDING') out.push(paymentRecord(o, o.payCount, 'FAILED', o.payCreatedAt, ts));
    o.state = o.state === 'CREATED' ? 'FAILED' : 'SHIPPED';
    o.updatedAt = ts;
    out.push(orderRecord(o));
    close(o);
  }
  function rememberCancelled(o: Order): void {
    cancelled.push({ key: o.key, payCount: o.payCount, at: o.updatedAt });
    if (cancelled.length > TOMBSTONE_RING) cancelled.shift();
  }

  function* history(orders: number, opts: { days?: number; chunk?: number } = {}): Iterable<GeneratedRecord[]> {
    const span = Math.max(1, (opts.days ?? 30) * DAY);
    const chunk = Math.max(1, opts.chunk ?? 1000); // small chunks die young: far less GC work
    const shipMean = Math.min(span * 0.15, 4 * DAY);
    const r = rh;
    let out: GeneratedRecord[] = [];
    for (let i = 0; i < orders; i++) {
      const t = start - span + Math.floor(((i + r()) * span) / orders);
      let c = activeCustomer(r);
      for (let k = 0; k < 4 && c.createdAt > t; k++) c = activeCustomer(r);
      if (c.createdAt > t) c = oldest;
      const o = newOrder(r, c, t);
      // Only the newest `cap` orders may still be open at `start`: older ones finish before it.
      const mustFinish = orders - 1 - i >= cap;
      const u = r();
      const outcome: OrderState = u < 70 / 88 ? 'SHIPPED' : u < 80 / 88 ? 'CANCELLED' : 'FAILED';
      let v = t + 1000 + Math.floor(r() * 5 * MIN); // validated / failed
      if (mustFinish && v >= start) v = t + Math.floor((start - 1 - t) * r());
      let f = v + Math.floor(-Math.log(1 - r()) * shipMean) + 10 * MIN; // shipped / cancelled
      if (mustFinish && f >= start) f = v + Math.floor((start - 1 - v) * r());
      const end = Math.min(v, start - 1);
      if (v >= start) {
        o.state = 'CREATED';
        addOpen(o, t, out);
        out.push(orderRecord(o));
        if (r() < 0.6) {
          o.payCount = 1;
          o.payStatus = 'PENDING';
          o.payCreatedAt = t + Math.floor((end - t) * r());
          out.push(paymentRecord(o, 1, 'PENDING', o.payCreatedAt, o.payCreatedAt));
        }
      } else if (outcome === 'FAILED') {
        o.state = 'FAILED';
        o.updatedAt = v;
        out.push(orderRecord(o));
        if (r() < 0.5) out.push(paymentRecord(o, ++o.payCount, 'FAILED', t + Math.floor((v - t) * r()), v));
      } else {
        o.state = f < start ? outcome : 'VALIDATED';
        o.updatedAt = f < start ? f : v;
        if (o.state === 'VALIDATED') addOpen(o, t, out);
        out.push(orderRecord(o));
        let pc = t + Math.floor((v - t) * 0.5 * r());
        if (r() < 0.07) {
          // first attempt failed, retry captured
          const failedAt = pc + Math.floor((v - pc) * 0.5 * r());
          out.push(paymentRecord(o, ++o.payCount, 'FAILED', pc, failedAt));
          pc = failedAt + Math.floor((v - failedAt) * r());
          o.method = pickMethod(r, c);
        }
        let status: PaymentStatus = 'CAPTURED';
        let pu = v;
        if (o.state === 'CANCELLED' && r() < 0.9) {
          status = 'REFUNDED';
          pu = f;
        }
        const returned = f + Math.floor(r() * 10 * DAY);
        if (o.state === 'SHIPPED' && r() < 0.02 && returned < start) {
          status = 'REFUNDED';
          pu = returned;
        }
        o.payStatus = status;
        o.payCreatedAt = pc;
        out.push(paymentRecord(o, ++o.payCount, status, pc, pu));
        if (o.state === 'CANCELLED') rememberCancelled(o);
      }
      if ((i + 1) % chunk === 0) {
        yield out;
        out = [];
      }
    }
    if (out.length > 0) yield out;
  }

  /** One live event for a random open order: the next step of its life cycle. */
  function advance(o: Order, now: number, out: GeneratedRecord[]): void {
    const r = rl;
    const ts = Math.max(now, o.updatedAt, o.payCreatedAt);
    if (o.state === 'CREATED' && o.payStatus !== 'PENDING') {
      if (o.payCount === 0 && r() < 0.04) {
        // rejected by validation, no payment
        o.state = 'FAILED';
        o.updatedAt = ts;
        out.push(orderRecord(o));
        close(o);
        return;
      }
      if (o.payCount > 0) o.method = pickMethod(r, o.customer);
      o.payStatus = 'PENDING';
      o.payCreatedAt = ts;
      out.push(paymentRecord(o, ++o.payCount, 'PENDING', ts, ts));
    } else if (o.state === 'CREATED') {
      const ok = r() < 0.88;
      o.payStatus = ok ? 'CAPTURED' : 'FAILED';
      out.push(paymentRecord(o, o.payCount, o.payStatus, o.payCreatedAt, ts));
      if (!ok && o.payCount < 3 && r() < 0.6) return; // customer will retry
      o.state = ok ? 'VALIDATED' : 'FAILED';
      o.updatedAt = ts;
      out.push(orderRecord(o));
      if (!ok) close(o);
    } else {
      // VALIDATED
      o.updatedAt = ts;
      if (r() < 0.89) {
        o.state = 'SHIPPED';
        out.push(orderRecord(o));
        close(o);
        return;
      }
      o.state = 'CANCELLED';
      out.push(orderRecord(o));
      if (r() < 0.9) {
        o.payStatus = 'REFUNDED';
        out.push(paymentRecord(o, o.payCount, 'REFUNDED', o.payCreatedAt, ts));
      }
      close(o);
      rememberCancelled(o);
    }
  }
  function updateCustomer(now: number, out: GeneratedRecord[]): void {
    const r = rl;
    const c = activeCustomer(r);
    const u = r();
    const tier = TIERS.indexOf(c.tier);
    if (u < 0.35 && tier < TIERS.length - 1) c.tier = at(TIERS, tier + 1);
    else if (u < 0.6) {
      const domain = at(EMAIL_DOMAINS, Math.floor(r() * EMAIL_DOMAINS.length));
      c.email = r() < 0.5 ? `${ascii(c.first)}.${ascii(c.last)}${c.no}@${domain}` : `${ascii(c.first).slice(0, 1)}${ascii(c.last)}${c.no}@${domain}`;
    }
    c.updatedAt = Math.max(now, c.updatedAt);
    out.push(customerRecord(c));
  }
  function tombstone(now: number, out: GeneratedRecord[]): boolean {
    const victim = cancelled[0];
    if (victim === undefined || victim.at >= now) return false; // oldest of the last 1000 cancelled
    cancelled.shift();
    for (let n = 1; n <= victim.payCount; n++) out.push({ topic: 'payments', key: `pay-${victim.key.slice(4)}-${n}`, value: null });
    out.push({ topic: 'orders', key: victim.key, value: null });
    return true;
  }

  function tick(now: number, count: number): GeneratedRecord[] {
    const out = carry;
    const r = rl;
    while (out.length < count) {
      const u = r();
      if (u < 0.02) {
        updateCustomer(now, out);
        continue;
      }
      if (u < 0.023 && tombstone(now, out)) continue;
      const pNew = openCount < openTarget ? 0.3 : 0.2;
      if (openCount === 0 || u < 0.023 + pNew) {
        const o = newOrder(r, activeCustomer(r), now);
        addOpen(o, now, out);
        out.push(orderRecord(o));
      } else {
        let o = at(open, head + Math.floor(r() * (open.length - head)));
        while (!o.open) o = at(open, head + Math.floor(r() * (open.length - head)));
        advance(o, now, out);
      }
    }
    carry = out.splice(count);
    return out;
  }

  function resume(state: ResumeState): void {
    const byKey = new Map(people.map((person) => [person.key, person]));
    for (const row of state.customers) {
      const person = byKey.get(row.customerId);
      if (!person) continue;
      person.email = row.email;
      if ((TIERS as readonly string[]).includes(row.tier)) person.tier = row.tier as Tier;
      person.updatedAt = Date.parse(row.updatedAt);
    }
    seq = Math.max(seq, state.lastOrder);
    for (const row of state.openOrders) {
      const customer = byKey.get(row.customerId);
      if (!customer || (row.state !== 'CREATED' && row.state !== 'VALIDATED')) continue;
      const payments = [...row.payments].sort((a, b) => attempt(a.paymentId) - attempt(b.paymentId));
      const latest = payments[payments.length - 1];
      const createdAt = Date.parse(row.createdAt);
      const o: Order = {
        id: Number(row.orderId.slice(4)),
        key: row.orderId,
        customer,
        product: row.product,
        quantity: row.quantity,
        unitCents: Math.round(row.unitPrice * 100),
        createdAt,
        updatedAt: Date.parse(row.updatedAt),
        state: row.state,
        payCount: latest ? attempt(latest.paymentId) : 0,
        payStatus: (latest?.status as PaymentStatus | undefined) ?? null,
        payCreatedAt: latest ? Date.parse(latest.createdAt) : createdAt,
        method: (latest?.method as PaymentMethod | undefined) ?? pickMethod(rl, customer),
        open: false,
      };
      addOpen(o, o.updatedAt, carry);
    }
    cancelled.length = 0;
    for (const row of state.cancelled.slice(-TOMBSTONE_RING))
      cancelled.push({ key: row.orderId, payCount: row.payments, at: Date.parse(row.updatedAt) });
  }

  return { customers: () => people.map(customerRecord), history, resume, tick };
}

/** The attempt number n of a payment id `pay-<order>-<n>`. */
function attempt(paymentId: string): number {
  return Number(paymentId.slice(paymentId.lastIndexOf('-') + 1));
}

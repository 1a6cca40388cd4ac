import { describe, expect, it } from 'vitest';
import { decodeRecord, type Decoded } from '../../src/ingest/decode.ts';
import { compileViews, type ViewModel } from '../../src/views/model.ts';
import customers from '../../views/customers.ts';
import orders from '../../views/orders.ts';
import payments from '../../views/payments.ts';

const views = compileViews([orders, customers, payments]);
const view = (id: string): ViewModel => {
  const found = views.find((candidate) => candidate.id === id);
  if (!found) throw new Error(`no view ${id}`);
  return found;
};
const ordersView = view('orders');

function order(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    orderId: 'o-1',
    customerId: 'c-9',
    state: 'CREATED',
    product: 'Widget',
    quantity: 3,
    unitPrice: 9.5,
    currency: 'EUR',
    createdAt: '2026-01-02T03:04:05.000Z',
    updatedAt: '2026-01-02T03:04:05.000Z',
    ...overrides,
  };
}

function without(field: string): Record<string, unknown> {
  const value = order();
  delete value[field];
  return value;
}

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value), 'utf8');

function decode(value: Buffer | null, key: Buffer | null = Buffer.from('o-1')): Decoded {
  return decodeRecord(ordersView, key, value);
}

function rejection(decoded: Decoded): { code: string; reason: string } {
  if (decoded.ok) throw new Error(`expected a rejection, got ${JSON.stringify(decoded)}`);
  return { code: decoded.code, reason: decoded.reason };
}

describe('decodeRecord: accepted records', () => {
  it('returns the row with only declared fields', () => {
    const decoded = decode(json({ ...order(), extra: 'ignored', nested: { a: 1 } }));
    expect(decoded).toEqual({ ok: true, key: 'o-1', row: order() });
    if (!decoded.ok) return;
    expect(Object.keys(decoded.row!).sort()).toEqual(ordersView.fields.map((field) => field.name).sort());
  });

  it('normalizes timestamps to toISOString form', () => {
    const decoded = decode(json(order({ createdAt: '2026-01-02T03:04:05Z', updatedAt: '2026-01-02T05:04:05.5+02:00' })));
    expect(decoded.ok).toBe(true);
    if (!decoded.ok) return;
    expect(decoded.row!.createdAt).toBe('2026-01-02T03:04:05.000Z');
    expect(decoded.row!.updatedAt).toBe('2026-01-02T03:04:05.500Z');
  });

  it('converts negative offsets across a day boundary', () => {
    const decoded = decode(json(order({ createdAt: '2026-01-01T22:30:00-05:30' })));
    expect(decoded.ok && decoded.row!.createdAt).toBe('2026-01-02T04:00:00.000Z');
  });

  it('accepts an int written as 3.0 in JSON (it is the number 3)', () => {
    const decoded = decode(Buffer.from(JSON.stringify(order()).replace('"quantity":3', '"quantity":3.0')));
    expect(decoded.ok && decoded.row!.quantity).toBe(3);
  });

  it('accepts non-ASCII keys and matches them against the key field', () => {
    const decoded = decodeRecord(ordersView, Buffer.from('ö-😀'), json(order({ orderId: 'ö-😀' })));
    expect(decoded.ok && decoded.key).toBe('ö-😀');
  });

  it('decodes the other reference views', () => {
    const payment = {
      paymentId: 'p-1',
      orderId: 'o-1',
      amount: 12.25,
      currency: 'USD',
      method: 'CARD',
      status: 'CAPTURED',
      createdAt: '2026-03-04T05:06:07+00:00',
      updatedAt: '2026-03-04T05:06:07Z',
    };
    const decoded = decodeRecord(view('payments'), Buffer.from('p-1'), json(payment));
    expect(decoded).toEqual({
      ok: true,
      key: 'p-1',
      row: { ...payment, createdAt: '2026-03-04T05:06:07.000Z', updatedAt: '2026-03-04T05:06:07.000Z' },
    });
    const badTier = decodeRecord(
      view('customers'),
      Buffer.from('c-1'),
      json({
        customerId: 'c-1',
        name: 'A',
        email: 'a@b',
        tier: 'IRON',
        country: 'DE',
        createdAt: '2026-01-01T00:00:00Z',
        updatedAt: '2026-01-01T00:00:00Z',
      }),
    );
    expect(rejection(badTier).code).toBe('GW_RECORD_INVALID');
    expect(rejection(badTier).reason.startsWith('tier')).toBe(true);
  });
});

describe('decodeRecord: tombstones', () => {
  it('a null value is a tombstone for the key', () => {
    expect(decode(null)).toEqual({ ok: true, key: 'o-1', row: null });
  });
});

describe('decodeRecord: rejections', () => {
  it('null key', () => {
    expect(rejection(decode(json(order()), null)).code).toBe('GW_RECORD_INVALID');
    // also for a tombstone
    expect(rejection(decode(null, null)).code).toBe('GW_RECORD_INVALID');
  });

  it('empty key', () => {
    expect(rejection(decode(json(order()), Buffer.alloc(0))).code).toBe('GW_RECORD_INVALID');
  });

  it('non-UTF-8 key', () => {
    expect(rejection(decode(json(order()), Buffer.from([0x6f, 0xff, 0xfe]))).code).toBe('GW_RECORD_MALFORMED');
    // a lone continuation byte / truncated sequence
    expect(rejection(decode(null, Buffer.from([0xe2, 0x82]))).code).toBe('GW_RECORD_MALFORMED');
  });

  it('malformed JSON', () => {
    expect(rejection(decode(Buffer.from('{"orderId": "o-1",'))).code).toBe('GW_RECORD_MALFORMED');
    expect(rejection(decode(Buffer.from(''))).code).toBe('GW_RECORD_MALFORMED');
  });

  it('non-UTF-8 value', () => {
    const bytes = Buffer.concat([Buffer.from('{"product":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
    expect(rejection(decode(bytes)).code).toBe('GW_RECORD_MALFORMED');
  });

  it.each([
    ['array', '[1,2]'],
    ['number', '42'],
    ['null literal', 'null'],
    ['string', '"o-1"'],
    ['boolean', 'true'],
  ])('JSON %s instead of an object', (_name, text) => {
    expect(rejection(decode(Buffer.from(text))).code).toBe('GW_RECORD_MALFORMED');
  });

  it.each(['orderId', 'customerId', 'state', 'product', 'quantity', 'unitPrice', 'currency', 'createdAt', 'updatedAt'])(
    'missing required field %s',
    (field) => {
      const missing = rejection(decode(json(without(field))));
      expect(missing.code).toBe('GW_RECORD_INVALID');
      expect(missing.reason.startsWith(`${field}:`)).toBe(true);
      // a JSON null counts as missing
      const nulled = rejection(decode(json(order({ [field]: null }))));
      expect(nulled.code).toBe('GW_RECORD_INVALID');
      expect(nulled.reason.startsWith(`${field}:`)).toBe(true);
    },
  );

  it.each<[string, string, unknown]>([
    ['string for int', 'quantity', '3'],
    ['float for int', 'quantity', 2.5],
    ['unsafe integer for int', 'quantity', 2 ** 60],
    ['string for float', 'unitPrice', '9.5'],
    ['number for string', 'product', 5],
    ['number for id', 'customerId', 17],
    ['empty id', 'customerId', ''],
    ['object for string', 'product', { name: 'Widget' }],
    ['array for string', 'product', ['Widget']],
    ['boolean for float', 'unitPrice', true],
    ['unknown enum value', 'state', 'LOST'],
    ['enum value in wrong case', 'state', 'created'],
    ['number for enum', 'state', 1],
    ['bad pattern (lower case)', 'currency', 'eur'],
    ['bad pattern (too long)', 'currency', 'EURO'],
    ['timestamp without zone', 'createdAt', '2026-01-02T03:04:05'],
    ['date only', 'createdAt', '2026-01-02'],
    ['timestamp not a date', 'createdAt', 'yesterday'],
    ['timestamp month 13', 'updatedAt', '2026-13-02T03:04:05Z'],
    ['timestamp as epoch number', 'createdAt', 1767323045000],
  ])('%s', (_name, field, value) => {
    const result = rejection(decode(json(order({ [field]: value }))));
    expect(result.code).toBe('GW_RECORD_INVALID');
    expect(result.reason.startsWith(`${field}:`)).toBe(true);
  });

  it('key field different from the record key', () => {
    const result = rejection(decode(json(order({ orderId: 'o-2' })), Buffer.from('o-1')));
    expect(result.code).toBe('GW_RECORD_INVALID');
    expect(result.reason.startsWith('orderId:')).toBe(true);
  });

  // Date.parse rolls Feb 30 over to Mar 2; the record must be refused instead.
  it('timestamp with an impossible calendar day (Feb 30) is rejected', () => {
    const result = rejection(decode(json(order({ createdAt: '2026-02-30T00:00:00Z' }))));
    expect(result.code).toBe('GW_RECORD_INVALID');
    expect(result.reason.startsWith('createdAt:')).toBe(true);
  });
});

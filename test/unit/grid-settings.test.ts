import { describe, expect, it } from 'vitest';
import { decodeToken, describeAge, describeOffsets, encodeToken, mergeOffsets, type Offsets } from '../../src/ui/grid/offsets.ts';
import { DEFAULT_SETTINGS, settingsFromQuery, settingsToQuery } from '../../src/ui/grid/settings.ts';
import { encodeToken as gatewayEncode } from '../../src/routing/consistency.ts';

describe('the grid page settings in the URL', () => {
  it('round-trips sort, filters and paging, leaving defaults out', () => {
    expect(settingsToQuery(DEFAULT_SETTINGS)).toBe('');
    const query = '?sort=ORDER_ID&dir=ASC&state=SHIPPED&currency=EUR&customer=cus-000042&pageSize=40&windowRows=120';
    const settings = settingsFromQuery(query);
    expect(settings).toEqual({
      sort: { field: 'ORDER_ID', direction: 'ASC' },
      filter: { state: 'SHIPPED', currency: 'EUR', customerId: 'cus-000042' },
      pageSize: 40,
      windowRows: 120,
    });
    expect(settingsToQuery(settings)).toBe(query);
  });

  it('falls back to the defaults for unknown or out-of-range values', () => {
    expect(settingsFromQuery('?sort=PRICE&dir=UP&state=LOST&pageSize=5000&windowRows=10')).toEqual(DEFAULT_SETTINGS);
    expect(settingsFromQuery('?currency= usd ').filter.currency).toBe('USD');
    // The window holds at least three pages.
    expect(settingsFromQuery('?pageSize=300').windowRows).toBe(900);
  });
});

describe('the grid page offsets', () => {
  it('reads the gateway consistency tokens and writes tokens the gateway reads', () => {
    const offsets: Offsets = { orders: { '0': '12', '1': '9007199254740993' } };
    expect(decodeToken(gatewayEncode(offsets))).toEqual(offsets);
    expect(encodeToken(offsets)).toBe(gatewayEncode(offsets));
    expect(decodeToken('not-a-token')).toBeUndefined();
    expect(decodeToken('c1.!!!')).toBeUndefined();
  });

  it('keeps the highest offset of each partition, comparing offsets as decimals', () => {
    const into: Offsets = { orders: { '0': '99', '1': '5' } };
    expect(mergeOffsets(into, { orders: { '0': '100', '1': '4' }, payments: { '0': '7' } })).toBe(true);
    expect(into).toEqual({ orders: { '0': '100', '1': '5' }, payments: { '0': '7' } });
    expect(mergeOffsets(into, { orders: { '0': '100' } })).toBe(false);
  });

  it('describes offsets and ages for the status line', () => {
    expect(describeOffsets({ payments: { '0': '7' }, orders: { '10': '1', '2': '3' } })).toBe('orders 2:3 10:1 · payments 0:7');
    expect([describeAge(250), describeAge(2400), describeAge(180_000)]).toEqual(['250 ms ago', '2.4 s ago', '3 min ago']);
  });
});

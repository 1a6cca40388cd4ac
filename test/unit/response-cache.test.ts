import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { createResponseCache, MAX_KEY_CHARS, wantsFresh } from '../../src/server/response-cache.ts';

const document = parse('{ orders { totalCount } }');

/** Offsets a test moves by hand: topic -> partition -> next offset; absent = not served here. */
function partitions(initial: Record<string, Record<string, string>>) {
  const served = structuredClone(initial);
  return {
    served,
    servedOffset: (topic: string, partition: number) => served[topic]?.[String(partition)],
  };
}

const answer = (text: string, freshness: Record<string, Record<string, string>>) => ({
  text,
  contentType: 'application/json; charset=utf-8',
  document,
  operationName: undefined,
  freshness,
});

describe('response cache', () => {
  it('sends a kept answer while every partition it read is at the same offset, and drops it when one moves', () => {
    const state = partitions({ orders: { '0': '10', '1': '4' }, payments: { '0': '7' } });
    const cache = createResponseCache({ maxBytes: 1 << 20, minMs: 0, keepFirst: true, servedOffset: state.servedOffset });
    cache.set('k', answer('{"data":1}', { orders: { '0': '10', '1': '4' }, payments: { '0': '7' } }), 1);
    expect(cache.get('k')?.bytes.toString()).toBe('{"data":1}');
    expect(cache.get('k')?.contentType).toBe('application/json; charset=utf-8');
    // A partition the answer did not read moves: still current.
    state.served.payments!['1'] = '99';
    expect(cache.get('k')).toBeDefined();
    // One it read moves: dropped, and gone for good even if the offset came back.
    state.served.payments!['0'] = '8';
    expect(cache.get('k')).toBeUndefined();
    state.served.payments!['0'] = '7';
    expect(cache.get('k')).toBeUndefined();
    expect(cache.stats).toEqual({ hits: 3, stale: 1, stored: 1 });
  });

  it('drops a kept answer when a partition it read stops being served here (moved away, restoring, stalled)', () => {
    const state = partitions({ orders: { '0': '10' } });
    const cache = createResponseCache({ maxBytes: 1 << 20, minMs: 0, keepFirst: true, servedOffset: state.servedOffset });
    cache.set('k', answer('x', { orders: { '0': '10' } }), 1);
    expect(cache.get('k')).toBeDefined();
    delete state.served.orders!['0'];
    expect(cache.get('k')).toBeUndefined();
  });

  it('does not keep an answer that read a partition not served here, or one that moved while the query ran', () => {
    const state = partitions({ orders: { '0': '10' } });
    const cache = createResponseCache({ maxBytes: 1 << 20, minMs: 0, keepFirst: true, servedOffset: state.servedOffset });
    cache.set('peer', answer('x', { orders: { '0': '10', '1': '3' } }), 1);
    cache.set('moved', answer('x', { orders: { '0': '9' } }), 1);
    cache.set('unknown topic', answer('x', { refunds: { '0': '0' } }), 1);
    expect(cache.get('peer')).toBeUndefined();
    expect(cache.get('moved')).toBeUndefined();
    expect(cache.get('unknown topic')).toBeUndefined();
    expect(cache.stats.stored).toBe(0);
  });

  it('keeps an answer that read nothing (it depends on no partition)', () => {
    const cache = createResponseCache({ maxBytes: 1 << 20, minMs: 0, keepFirst: true, servedOffset: () => undefined });
    cache.set('k', answer('{"data":{"__typename":"Query"}}', {}), 1);
    expect(cache.get('k')).toBeDefined();
  });

  it('keeps only answers that took at least minMs to run', () => {
    const cache = createResponseCache({ maxBytes: 1 << 20, minMs: 0.25, keepFirst: true, servedOffset: () => '1' });
    cache.set('fast', answer('x', { orders: { '0': '1' } }), 0.1);
    cache.set('slow', answer('x', { orders: { '0': '1' } }), 0.3);
    expect(cache.get('fast')).toBeUndefined();
    expect(cache.get('slow')).toBeDefined();
  });

  it('stays within its byte budget, dropping the least recently used answers, and refuses answers over an eighth of it', () => {
    const maxBytes = 64 * 1024;
    const cache = createResponseCache({ maxBytes, minMs: 0, keepFirst: true, servedOffset: () => '1' });
    const body = 'x'.repeat(1000);
    for (let n = 0; n < 500; n++) {
      cache.set(`key-${n}`, answer(body, { orders: { '0': '1' } }), 1);
      expect(cache.size).toBeLessThanOrEqual(maxBytes);
    }
    expect(cache.get('key-0')).toBeUndefined();
    expect(cache.get('key-499')).toBeDefined();
    cache.set('huge', answer('y'.repeat(maxBytes / 8), { orders: { '0': '1' } }), 1);
    expect(cache.get('huge')).toBeUndefined();
    cache.set('z'.repeat(MAX_KEY_CHARS + 1), answer('y', { orders: { '0': '1' } }), 1);
    expect(cache.get('z'.repeat(MAX_KEY_CHARS + 1))).toBeUndefined();
  });

  it('keeps an answer from its second offer on, and not a key offered once among many', () => {
    const cache = createResponseCache({ maxBytes: 1 << 20, minMs: 0, servedOffset: () => '1' });
    cache.set('page', answer('x', { orders: { '0': '1' } }), 1);
    expect(cache.get('page')).toBeUndefined();
    cache.set('page', answer('x', { orders: { '0': '1' } }), 1);
    expect(cache.get('page')).toBeDefined();
    for (let n = 0; n < 1000; n++) cache.set(`lookup-${n}`, answer('x', { orders: { '0': '1' } }), 1);
    expect(cache.stats.stored).toBe(1);
  });

  it('is off with a budget of 0', () => {
    const cache = createResponseCache({ maxBytes: 0, minMs: 0, keepFirst: true, servedOffset: () => '1' });
    cache.set('k', answer('x', {}), 1);
    expect(cache.enabled).toBe(false);
    expect(cache.get('k')).toBeUndefined();
  });

  it('reads Cache-Control: no-cache and no-store, in any case and position, as a request for a fresh answer', () => {
    for (const value of ['no-cache', 'No-Store', 'max-age=0, no-cache', 'private,no-store', ['max-age=0', 'no-cache']]) {
      expect(wantsFresh(value)).toBe(true);
    }
    for (const value of [undefined, '', 'max-age=60', 'public', 'xno-cache', 'no-transform']) expect(wantsFresh(value)).toBe(false);
  });
});

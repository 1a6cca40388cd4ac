import { describe, expect, it } from 'vitest';
import { Lru } from '../../src/lru.ts';

describe('Lru', () => {
  it('drops the least recently used entry beyond its bound; get and set count as uses, has does not', () => {
    const evicted: string[] = [];
    const lru = new Lru<string, number>(2, (key) => evicted.push(key));
    lru.set('a', 1);
    lru.set('b', 2);
    expect(lru.get('a')).toBe(1); // a is now the most recent
    lru.set('c', 3);
    expect(evicted).toEqual(['b']);
    expect(lru.has('b')).toBe(false);
    expect(lru.has('a')).toBe(true); // does not refresh a
    lru.set('c', 30); // refreshes c
    lru.set('d', 4);
    expect(evicted).toEqual(['b', 'a']);
    expect([lru.get('c'), lru.get('d'), lru.size]).toEqual([30, 4, 2]);
  });

  it('deletes without calling onEvict, by key or by a predicate, and evicts the oldest on demand', () => {
    const evicted: string[] = [];
    const lru = new Lru<string, number>(10, (key) => evicted.push(key));
    for (const key of ['0/a', '0/b', '1/a', '1/b']) lru.set(key, 1);
    lru.delete('0/a');
    lru.deleteWhere((key) => key.startsWith('1/'));
    expect(lru.size).toBe(1);
    expect(evicted).toEqual([]);
    expect(lru.evictOldest()).toBe(true);
    expect(lru.evictOldest()).toBe(false);
    expect(evicted).toEqual(['0/b']);
  });

  it('with a zero bound keeps nothing', () => {
    const lru = new Lru<string, number>(0);
    lru.set('a', 1);
    expect([lru.size, lru.get('a')]).toEqual([0, undefined]);
  });

  it('keeps its bound above the pre-allocated size too, dropping the oldest first', () => {
    const limit = (1 << 16) + 5;
    const evicted: number[] = [];
    const lru = new Lru<number, number>(limit, (key) => evicted.push(key));
    for (let key = 0; key < limit + 3; key++) lru.set(key, key);
    expect(lru.size).toBe(limit);
    expect(evicted).toEqual([0, 1, 2]);
    expect([lru.has(3), lru.get(limit + 2)]).toEqual([true, limit + 2]);
  });
});

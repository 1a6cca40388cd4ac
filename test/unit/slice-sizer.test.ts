/**
 * Slice sizing of ingest's synchronous steps: slices follow the measured cost per record towards
 * the target duration, shrink at once after a slow step, grow at most twofold per step, and stay
 * within their bounds.
 */
import { describe, expect, it } from 'vitest';
import { createSliceSizer } from '../../src/ingest/slice-sizer.ts';

describe('slice sizer', () => {
  const options = { targetMs: 10, min: 50, max: 4000, initial: 500 };

  it('starts at the initial size and grows at most twofold per step towards the target', () => {
    const sizer = createSliceSizer(options);
    expect(sizer.size()).toBe(500);
    sizer.took(500, 0.5); // 1 µs per record: 10 000 records would take 10 ms
    expect(sizer.size()).toBe(1000);
    sizer.took(1000, 1);
    expect(sizer.size()).toBe(2000);
    sizer.took(2000, 2);
    expect(sizer.size()).toBe(4000); // the upper bound
    sizer.took(4000, 4);
    expect(sizer.size()).toBe(4000);
  });

  it('shrinks at once after a slow step, never below the lower bound', () => {
    const sizer = createSliceSizer(options);
    sizer.took(500, 50); // 0.1 ms per record: 100 records make 10 ms
    expect(sizer.size()).toBe(100);
    sizer.took(100, 100); // a stalled write: 1 ms per record
    expect(sizer.size()).toBe(50);
  });

  it('forgets a slow step gradually', () => {
    const sizer = createSliceSizer(options);
    sizer.took(500, 50);
    const sizes: number[] = [];
    for (let i = 0; i < 6; i++) {
      sizer.took(sizer.size(), sizer.size() * 0.01);
      sizes.push(sizer.size());
    }
    for (let i = 1; i < sizes.length; i++) expect(sizes[i]!).toBeGreaterThanOrEqual(sizes[i - 1]!);
    expect(sizes.at(-1)).toBeGreaterThan(100);
  });

  it('ignores empty or unmeasurable steps', () => {
    const sizer = createSliceSizer(options);
    sizer.took(0, 5);
    sizer.took(10, Number.NaN);
    expect(sizer.size()).toBe(500);
  });
});

import { describe, expect, it } from 'vitest';
import { createAdmission } from '../../src/store/admission.ts';

describe('row cache admission', () => {
  it('admits a key on its second offer, not its first', () => {
    const admission = createAdmission(10_000);
    expect(admission.admit('0\u0000order-1')).toBe(false);
    expect(admission.admit('0\u0000order-1')).toBe(true);
    expect(admission.admit('0\u0000order-1')).toBe(true);
    expect(admission.admit('1\u0000order-1')).toBe(false); // another partition is another key
  });

  it('admits few keys offered once: reads spread over far more keys than the window', () => {
    const admission = createAdmission(20_000);
    let admitted = 0;
    for (let i = 0; i < 200_000; i++) if (admission.admit(`${i % 6}\u0000order-${i}`)) admitted++;
    // Bloom filter false positives only: about 1.4 % at a full window, less on average.
    expect(admitted).toBeLessThan(200_000 * 0.02);
  });

  it('admits a hot set that is read again within the window', () => {
    const admission = createAdmission(20_000);
    for (let i = 0; i < 10_000; i++) admission.admit(`hot-${i}`);
    let admitted = 0;
    for (let i = 0; i < 10_000; i++) if (admission.admit(`hot-${i}`)) admitted++;
    expect(admitted).toBe(10_000);
  });

  it('forgets first offers once the window is full', () => {
    const admission = createAdmission(4_096);
    admission.admit('early');
    // More than a window of other keys (a false positive records nothing, so more than 4,096).
    for (let i = 0; i < 6_000; i++) admission.admit(`filler-${i}`);
    expect(admission.admit('early')).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import { createTurns } from '../../src/ingest/ingestor.ts';

/** Busy-waits, as a slice applying records does. */
const spin = (ms: number): void => {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // a synchronous slice
  }
};

/**
 * Two consumers apply 6 slices each, yielding before every slice as ingest does; a timer
 * that re-arms itself counts the loop's timer phases. Returns, per slice, the timer count it saw.
 */
async function run(yieldTurn: () => Promise<void>): Promise<number[]> {
  let timerPhases = 0;
  let running = true;
  const tick = (): void => {
    timerPhases++;
    if (running) setTimeout(tick, 0);
  };
  setTimeout(tick, 0);
  const seen: number[] = [];
  const consumer = async () => {
    for (let slice = 0; slice < 6; slice++) {
      await yieldTurn();
      seen.push(timerPhases);
      spin(3);
    }
  };
  await Promise.all([consumer(), consumer()]);
  running = false;
  return seen;
}

describe('ingest turns', () => {
  it('runs one slice per event-loop turn across consumers, taking turns', async () => {
    const nextTurn = createTurns();
    const seen = await run(nextTurn);
    expect(seen).toHaveLength(12);
    // A timer phase between every two slices: no two slices saw the same count.
    expect(new Set(seen).size).toBe(12);
  });

  it('a bare setImmediate per slice lets both consumers run in one turn (what the turns prevent)', async () => {
    const seen = await run(() => new Promise((resolve) => setImmediate(resolve)));
    expect(seen).toHaveLength(12);
    expect(new Set(seen).size).toBeLessThan(12);
  });
});

/**
 * The read-worker pool (src/server/read-workers.ts) with a fake worker script: the workers start
 * with the first task offered, tasks go to the least busy ready worker up to its in-flight bound,
 * declines and a worker's exit hand tasks back (undefined), and a worker that exits or fails to
 * start is started again.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.ts';
import { createReadWorkers, type ReadWorkers, type ReadWorkersOptions } from '../../src/server/read-workers.ts';

const SCRIPT = new URL('../fixtures/workers/fake-read-worker.ts', import.meta.url);
const task = (query: string) => ({ query, variables: undefined, operationName: undefined, token: undefined, claims: undefined, deadline: undefined });

async function until(condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('read workers pool', () => {
  let pool: ReadWorkers | undefined;
  const counted: string[] = [];
  const start = (overrides: Partial<ReadWorkersOptions> = {}) => {
    pool = createReadWorkers({
      count: 1,
      kv: { handle: 0n, writes: new Int32Array(new SharedArrayBuffer(4)), onWrite: () => {} },
      views: [],
      viewsDir: 'views',
      topicPrefix: '',
      partitionCounts: new Map(),
      partitioner: 'murmur2',
      rowCacheRows: 0,
      defaultPageSize: 50,
      maxPageSize: 500,
      served: () => true,
      logger: createLogger('error'),
      counted: (outcome) => counted.push(outcome),
      script: SCRIPT,
      restartPauseMs: 20,
      ...overrides,
    });
    return pool;
  };
  /** A pool whose worker is up: the first offer starts it (and is run by the caller). */
  const ready = async (overrides: Partial<ReadWorkersOptions> = {}) => {
    const workers = start(overrides);
    expect(workers.offer(task('answer'))).toBeUndefined();
    await until(() => workers.size === 1);
    counted.length = 0;
    return workers;
  };
  afterEach(async () => {
    await pool?.close();
    pool = undefined;
    counted.length = 0;
  });

  it('starts no worker before the first offer, offers nothing before one is ready, then answers through it', async () => {
    const workers = start();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(workers.size).toBe(0);
    expect(workers.offer(task('answer'))).toBeUndefined();
    await until(() => workers.size === 1);
    const answer = await workers.offer(task('answer'));
    expect(answer?.text).toMatch(/^\{"data":\{"id":\d+\}\}$/);
    expect(await workers.offer(task('decline'))).toBeUndefined();
    expect(counted).toEqual(['answered', 'declined']);
  });

  it('starts nothing for an offer after close: no worker, no refresh of the flags', async () => {
    let asked = 0;
    const workers = start({
      views: [{ id: 'v', topic: 't' }] as never[],
      partitionCounts: new Map([['v', 1]]),
      served: () => {
        asked++;
        return true;
      },
      refreshMs: 10,
    });
    await workers.close();
    expect(workers.offer(task('answer'))).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(workers.size).toBe(0);
    expect(asked).toBe(0);
  });

  it('runs a task here when every worker has its bound in flight', async () => {
    const workers = await ready({ maxInFlight: 2 });
    const hanging = [workers.offer(task('hang')), workers.offer(task('hang'))];
    expect(hanging.every((offered) => offered !== undefined)).toBe(true);
    expect(workers.offer(task('answer'))).toBeUndefined();
    expect(counted).toEqual(['busy']);
  });

  it('hands back the tasks of a worker that exits, and starts another', async () => {
    const workers = await ready();
    const pending = workers.offer(task('hang'))!;
    expect(await workers.offer(task('exit'))).toBeUndefined();
    expect(await pending).toBeUndefined();
    await until(() => workers.size === 1);
    expect((await workers.offer(task('answer')))?.text).toBeDefined();
  });

  it('starts a worker again after each failed start', async () => {
    const starts = new Int32Array(new SharedArrayBuffer(4));
    const workers = start({ viewsDir: 'fail', kv: { handle: 0n, writes: starts, onWrite: () => {} } });
    workers.offer(task('answer'));
    // Pauses of 20, 40, 80 ms between the starts: three failed starts within a second or so.
    await until(() => Atomics.load(starts, 0) >= 3);
    expect(workers.size).toBe(0);
    expect(workers.offer(task('answer'))).toBeUndefined();
  });

  it('publishes which partitions are served here, on a timer and at once on refresh', async () => {
    const served = new Set(['t/0', 't/2', 'u/0']);
    const views = [
      { id: 'v', topic: 't' },
      { id: 'w', topic: 't' },
      { id: 'x', topic: 'u' },
    ] as never[];
    const workers = await ready({
      views,
      partitionCounts: new Map([
        ['v', 3],
        ['w', 3],
        ['x', 1],
      ]),
      served: (topic, partition) => served.has(`${topic}/${partition}`),
      refreshMs: 60_000,
    });
    const flags = async () => JSON.parse((await workers.offer(task('flags')))!.text) as { base: Record<string, number>; flags: number[] };
    expect(await flags()).toEqual({ base: { t: 0, u: 3 }, flags: [1, 0, 1, 1] });
    served.delete('t/0');
    served.add('t/1');
    workers.refresh();
    expect((await flags()).flags).toEqual([0, 1, 1, 1]);
  });
});

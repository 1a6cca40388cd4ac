/**
 * Logs a restore's progress at a steady pace: every `intervalMs` (10 s) while any assigned
 * partition is restoring (further behind than READY_MAX_LAG), one `restore progress` line with
 * the records applied since the restore began, the records left, the percentage, the rate over
 * the last interval and the time left at that rate; one `restore done` line when none is left.
 *
 *   {"level":"info","msg":"restore progress","partitions":3,"applied":120000,"remaining":80000,
 *    "percent":60,"recordsPerSecond":15000,"etaSeconds":5}
 */
import type { Logger } from '../log.ts';

export interface RestoreProgressOptions {
  /** Assigned partitions and where they stand. */
  readonly progress: () => ReadonlyArray<{
    readonly topic: string;
    readonly partition: number;
    readonly nextOffset: string | undefined;
    readonly lag: number;
  }>;
  /** Whether a partition is restoring (not yet servable). */
  readonly restoring: (topic: string, partition: number) => boolean;
  readonly logger: Logger;
  /** Default 10,000 ms. */
  readonly intervalMs?: number;
  readonly now?: () => number;
}

export interface RestoreProgress {
  start(): void;
  stop(): void;
  /** One step: what the timer does every interval. */
  report(): void;
}

export function createRestoreProgress(options: RestoreProgressOptions): RestoreProgress {
  const now = options.now ?? Date.now;
  /** Per partition of the current restore: the next offset when it was first seen restoring, and now. */
  const tracked = new Map<string, { from: number; next: number }>();
  let began = 0;
  let previous: { at: number; applied: number } | undefined;
  let timer: NodeJS.Timeout | undefined;

  const report = (): void => {
    const all = options.progress();
    // Partitions of this restore that finished since: counted up to where they are now.
    for (const entry of all) {
      const known = tracked.get(`${entry.topic}/${entry.partition}`);
      if (known) known.next = Number(entry.nextOffset ?? 0);
    }
    const restoring = all.filter((entry) => options.restoring(entry.topic, entry.partition));
    const at = now();
    if (restoring.length === 0) {
      if (tracked.size > 0) {
        const applied = [...tracked.values()].reduce((sum, entry) => sum + entry.next - entry.from, 0);
        options.logger.info('restore done', { partitions: tracked.size, applied, seconds: Math.round((at - began) / 1000) });
        tracked.clear();
        previous = undefined;
      }
      return;
    }
    if (tracked.size === 0) began = at;
    let remaining = 0;
    for (const entry of restoring) {
      const id = `${entry.topic}/${entry.partition}`;
      const next = Number(entry.nextOffset ?? 0);
      const known = tracked.get(id);
      if (known) known.next = next;
      else tracked.set(id, { from: next, next });
      remaining += entry.lag;
    }
    const applied = [...tracked.values()].reduce((sum, entry) => sum + entry.next - entry.from, 0);
    const rate = previous && at > previous.at ? ((applied - previous.applied) * 1000) / (at - previous.at) : undefined;
    previous = { at, applied };
    options.logger.info('restore progress', {
      partitions: restoring.length,
      applied,
      remaining,
      percent: applied + remaining > 0 ? Math.round((applied / (applied + remaining)) * 1000) / 10 : 0,
      ...(rate !== undefined ? { recordsPerSecond: Math.round(rate), etaSeconds: rate > 0 ? Math.ceil(remaining / rate) : null } : {}),
    });
  };

  return {
    report,
    start() {
      timer ??= setInterval(report, options.intervalMs ?? 10_000);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
    },
  };
}

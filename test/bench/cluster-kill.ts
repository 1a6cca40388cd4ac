/**
 * Availability under an instance failure: a bounded loop of `order(orderId)` lookups (random
 * existing ids) through the balancer, `concurrency` at a time, with one instance SIGKILLed after
 * `killAfterMs`. Every request's start, end and outcome is kept. A request fails when it is not
 * HTTP 200, carries GraphQL errors, times out, or returns null / another order for an id that
 * exists. The unavailability window is the time from the kill until the end of the last failed
 * request (0 when none failed after the kill).
 */
import { lookupBody } from './queries.ts';

export interface Sample {
  /** Milliseconds since the load started. */
  readonly startMs: number;
  readonly endMs: number;
  readonly ok: boolean;
  readonly what?: string;
}

export interface KillFigures {
  readonly concurrency: number;
  readonly durationMs: number;
  readonly killAtMs: number;
  readonly requests: number;
  readonly failed: number;
  readonly failedAfterKill: number;
  /** Kill until the end of the last failed request, ms; 0 if none failed after the kill. */
  readonly windowMs: number;
  readonly firstFailureAfterKillMs: number | null;
  /** Failure reasons and how often each occurred. */
  readonly reasons: Record<string, number>;
  /** Failed requests (at most 50), times relative to the kill. */
  readonly failures: Array<{ startMs: number; endMs: number; what: string }>;
  /** Requests per 500 ms bucket after the kill: [ok, failed]. */
  readonly timeline: Array<{ fromMs: number; ok: number; failed: number }>;
}

async function lookupOnce(url: string, id: string, timeoutMs: number): Promise<string | undefined> {
  let response: Response;
  try {
    response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: lookupBody(id),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    return `fetch: ${error instanceof Error ? (error.name === 'TimeoutError' ? 'timeout' : error.message) : String(error)}`;
  }
  const text = await response.text().catch(() => '');
  if (response.status !== 200) return `HTTP ${response.status}`;
  let json: { data?: { order?: { orderId?: string } | null } | null; errors?: Array<{ extensions?: { code?: string } }> };
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    return 'body is not JSON';
  }
  if (json.errors !== undefined) return `GraphQL error ${json.errors[0]?.extensions?.code ?? ''}`.trim();
  const order = json.data?.order;
  if (!order) return 'null for an existing key';
  if (order.orderId !== id) return 'another order';
  return undefined;
}

export async function lookupsAcrossKill(options: {
  readonly url: string;
  readonly ids: readonly string[];
  readonly concurrency: number;
  readonly durationMs: number;
  readonly killAfterMs: number;
  readonly requestTimeoutMs: number;
  readonly kill: () => void;
}): Promise<KillFigures> {
  const started = performance.now();
  const now = (): number => performance.now() - started;
  const samples: Sample[] = [];
  let killAtMs = Number.NaN;
  const killer = setTimeout(() => {
    killAtMs = now();
    options.kill();
  }, options.killAfterMs);
  const worker = async (): Promise<void> => {
    while (now() < options.durationMs) {
      const id = options.ids[Math.floor(Math.random() * options.ids.length)]!;
      const startMs = now();
      const what = await lookupOnce(options.url, id, options.requestTimeoutMs);
      samples.push({ startMs, endMs: now(), ok: what === undefined, ...(what === undefined ? {} : { what }) });
    }
  };
  try {
    await Promise.all(Array.from({ length: options.concurrency }, worker));
  } finally {
    clearTimeout(killer);
  }
  if (Number.isNaN(killAtMs)) throw new Error('the load ended before the kill');
  const failed = samples.filter((sample) => !sample.ok);
  // Requests in flight at the kill count as after it.
  const failedAfter = failed.filter((sample) => sample.endMs >= killAtMs);
  const lastEnd = Math.max(killAtMs, ...failedAfter.map((sample) => sample.endMs));
  const reasons: Record<string, number> = {};
  for (const sample of failed) reasons[sample.what ?? '?'] = (reasons[sample.what ?? '?'] ?? 0) + 1;
  const timeline: KillFigures['timeline'] = [];
  for (let from = 0; from < options.durationMs - killAtMs; from += 500) {
    const inBucket = samples.filter((sample) => sample.endMs - killAtMs >= from && sample.endMs - killAtMs < from + 500);
    timeline.push({ fromMs: from, ok: inBucket.filter((s) => s.ok).length, failed: inBucket.filter((s) => !s.ok).length });
  }
  const rel = (ms: number): number => Math.round(ms - killAtMs);
  return {
    concurrency: options.concurrency,
    durationMs: Math.round(now()),
    killAtMs: Math.round(killAtMs),
    requests: samples.length,
    failed: failed.length,
    failedAfterKill: failedAfter.length,
    windowMs: Math.round(lastEnd - killAtMs),
    firstFailureAfterKillMs: failedAfter.length === 0 ? null : rel(Math.min(...failedAfter.map((sample) => sample.endMs))),
    reasons,
    failures: failed.slice(0, 50).map((sample) => ({ startMs: rel(sample.startMs), endMs: rel(sample.endMs), what: sample.what ?? '?' })),
    timeline,
  };
}

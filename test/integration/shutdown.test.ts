import { request as httpRequest } from 'node:http';
import { createClient } from 'graphql-ws';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { partitionForKey } from '../../src/cluster/partitioner.ts';
import { decodeToken, encodeToken } from '../../src/routing/consistency.ts';
import { keyed, order } from '../support/data.ts';
import { useFixture } from '../support/fixture.ts';
import type { GatewayProcess } from '../support/process.ts';
import { waitFor } from '../support/wait.ts';

interface Outcome {
  readonly startedAt: number;
  readonly ok: boolean;
  readonly why?: string;
}

const GRID = '{ orders(first: 20, orderBy: { field: UPDATED_AT, direction: DESC }) { totalCount edges { node { orderId customer { name } } } } }';

/** One GraphQL POST: ok when it answers 200 with data and no errors. */
async function query(url: string, body: string, headers: Record<string, string> = {}): Promise<Outcome> {
  const startedAt = Date.now();
  try {
    const response = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    const json = (await response.json()) as { data?: unknown; errors?: unknown };
    const ok = response.status === 200 && json.data !== undefined && json.errors === undefined;
    return { startedAt, ok, ...(ok ? {} : { why: `${response.status} ${JSON.stringify(json).slice(0, 300)}` }) };
  } catch (error) {
    return { startedAt, ok: false, why: String((error as Error).cause ?? error) };
  }
}

/** GET /readyz on a fresh connection: its status and body, or the connection error. */
function readyz(url: string): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = httpRequest(`${url}/readyz`, { agent: false, timeout: 2000 }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    req.end();
  });
}

function exited(gateway: GatewayProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }> {
  const { child } = gateway;
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode, at: Date.now() });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));
}

/**
 * SIGTERM against a real gateway process under load: /readyz turns 503 first, no request that
 * started before the signal fails (one of them waits through the listener's close), a WebSocket
 * subscriber gets its resume token and a 1001 close, and the process exits 0. A second signal
 * exits at once.
 */
describe('shutdown on SIGTERM', () => {
  const fx = useFixture('shutdown');

  it('drains under load: readiness first, requests in flight answered, subscribers given their token', { timeout: 120_000 }, async () => {
    const gateway = await fx.spawnGateway({
      env: { SHUTDOWN_DELAY_MS: '1000', SHUTDOWN_TIMEOUT_MS: '15000', CONSISTENCY_WAIT_MS: '10000', TOPIC_PARTITIONS: '3' },
    });
    const exit = exited(gateway);
    await fx.produce(
      'orders',
      Array.from({ length: 300 }, (_, i) => keyed('orderId', order(i + 1))),
    );
    const ends = await fx.endOffsets('orders');
    const topic = fx.topic('orders');
    await waitFor(
      async () => {
        const answer = await readyz(gateway.url);
        return 'status' in answer && answer.status === 200;
      },
      { what: 'gateway ready', timeoutMs: 60_000 },
    );
    await waitFor(async () => (await gateway.metric('gw_ingest_applied_total')) >= 300, { what: 'orders applied' });

    // A subscriber over WebSocket. Not lazy: a lazy client closes the socket itself (1000) as
    // soon as its last subscription completes, racing the server's own close (1001).
    const client = createClient({
      url: `${gateway.url.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      lazy: false,
      // The server's close (1001) is the expected end here, not an error to print.
      onNonLazyError: () => undefined,
    });
    fx.defer(async () => {
      await client.dispose();
    });
    let closeCode: number | undefined;
    client.on('closed', (event) => {
      closeCode = (event as { code?: number }).code;
    });
    const received: Array<{ data?: unknown; errors?: Array<{ extensions?: { code?: string; details?: { token?: string } } }> }> = [];
    let completed = false;
    client.subscribe(
      { query: 'subscription { ordersChanged(first: 5, orderBy: { field: ORDER_ID }) { kind key token } }' },
      {
        next: (result) => received.push(result as (typeof received)[number]),
        error: (error) => received.push({ errors: [{ extensions: { code: `client error: ${JSON.stringify(error)}` } }] }),
        complete: () => {
          completed = true;
        },
      },
    );
    await waitFor(() => received.some((result) => JSON.stringify(result).includes('CAUGHT_UP')), { what: 'the snapshot' });

    // A subscriber over SSE: its stream is read until the server ends it.
    const sse = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: 'subscription { orderChanged(orderId: "ord-000001") { kind token } }' }),
    });
    expect(sse.status).toBe(200);
    const sseText = sse.text();

    // A request that waits, through the signal and the listener's close, for a record produced
    // after them (its consistency token asks for one more record on partition 0).
    const key = Array.from({ length: 1000 }, (_, i) => `ord-late-${i}`).find((candidate) => partitionForKey(candidate, 3) === 0)!;
    const waiting = query(gateway.url, JSON.stringify({ query: GRID }), {
      'x-gw-consistency': encodeToken({ [topic]: { '0': String(Number(ends.get(0)!) + 1) } }),
    });

    // Load: four clients querying back to back until the process is gone.
    const outcomes: Outcome[] = [];
    let loading = true;
    const loops = Array.from({ length: 4 }, async () => {
      while (loading) outcomes.push(await query(gateway.url, JSON.stringify({ query: GRID })));
    });
    const probes: Array<{ at: number; answer: Awaited<ReturnType<typeof readyz>> }> = [];
    const probing = (async () => {
      while (loading) {
        probes.push({ at: Date.now(), answer: await readyz(gateway.url) });
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 500));

    const signalAt = Date.now();
    gateway.child.kill('SIGTERM');
    // After the listener closed (SHUTDOWN_DELAY_MS), the record the waiting request needs.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await fx.produce('orders', [keyed('orderId', order(9999, { orderId: key }))]);
    const { code, at: exitAt } = await exit;
    loading = false;
    await Promise.all([...loops, probing]);

    expect(code).toBe(0);
    const before = outcomes.filter((outcome) => outcome.startedAt < signalAt);
    expect(before.length).toBeGreaterThan(10);
    expect(before.filter((outcome) => !outcome.ok)).toEqual([]);
    const slow = await waiting;
    expect(slow, slow.why).toMatchObject({ ok: true });

    // /readyz: 200 before the signal, 503 "stopping" after it and before the exit.
    const stopping = probes.find((probe) => probe.at >= signalAt && 'status' in probe.answer && probe.answer.status === 503);
    expect(stopping, JSON.stringify(probes.slice(-30))).toBeDefined();
    expect(JSON.parse((stopping!.answer as { body: string }).body)).toEqual({ status: 'stopping' });
    expect(stopping!.at).toBeLessThan(exitAt);
    expect(probes.some((probe) => probe.at < signalAt && 'status' in probe.answer && probe.answer.status === 200)).toBe(true);

    // The subscriber: one error with its resume token, then complete, then the close with 1001.
    const last = received.at(-1)!;
    expect(last.errors?.[0]?.extensions?.code, JSON.stringify(received.slice(-3))).toBe('GW_INSTANCE_STOPPING');
    const token = last.errors![0]!.extensions!.details!.token!;
    expect(Object.keys(decodeToken(token)[topic] ?? {}).sort()).toEqual(['0', '1', '2']);
    expect(completed).toBe(true);
    expect(closeCode).toBe(1001);

    // The SSE stream: its snapshot, the same error with a token, then its end.
    const events = await sseText;
    expect(events).toContain('"SNAPSHOT"');
    expect(events).toMatch(/"code":"GW_INSTANCE_STOPPING".*"token":"c1\./);
    expect(events).toContain('event: complete');

    expect(gateway.log.some((line) => line.includes('"msg":"stopping"') && line.includes('SIGTERM'))).toBe(true);
    expect(gateway.log.some((line) => line.includes('"msg":"stopped"'))).toBe(true);
  });

  it('exits at once on a second signal', { timeout: 60_000 }, async () => {
    // A long delay keeps the first stop waiting.
    const gateway = await fx.spawnGateway({ env: { SHUTDOWN_DELAY_MS: '30000' } });
    const exit = exited(gateway);
    await waitFor(
      async () => {
        const answer = await readyz(gateway.url);
        return 'status' in answer && answer.status === 200;
      },
      { what: 'gateway ready', timeoutMs: 60_000 },
    );
    gateway.child.kill('SIGTERM');
    await waitFor(() => gateway.log.some((line) => line.includes('"msg":"stopping"')), { what: 'the stop begins' });
    const answer = await readyz(gateway.url);
    expect(answer).toMatchObject({ status: 503 });
    const secondAt = Date.now();
    gateway.child.kill('SIGTERM');
    const { code, at } = await exit;
    expect(code).toBe(143);
    expect(at - secondAt).toBeLessThan(2000);
  });
});

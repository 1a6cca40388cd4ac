import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { signClientToken } from '../../src/server/client-auth.ts';
import { useFixture } from '../support/fixture.ts';
import type { TestGateway } from '../support/gateway.ts';

const LOOKUP = JSON.stringify({ query: '{ order(orderId: "nope") { orderId } }' });
const ENTITY = 'subscription { orderChanged(orderId: "nope") { kind } }';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Refusal {
  errors: Array<{ message: string; extensions: { code: string; retriable: boolean; details?: { retryAfterSeconds: number } } }>;
}

/** Opens a graphql-ws socket and completes the handshake; resolves with the socket, or the HTTP status that refused the upgrade. */
function connect(
  fx: ReturnType<typeof useFixture>,
  url: string,
  payload?: Record<string, unknown>,
): Promise<WebSocket | { status: number; retryAfter: string | undefined } | { closed: number; reason: string }> {
  return new Promise((resolve, reject) => {
    const socket = fx.websocket(url);
    const timer = setTimeout(() => reject(new Error('no handshake within 10 s')), 10_000);
    socket.once('unexpected-response', (_request, response) => {
      clearTimeout(timer);
      resolve({ status: response.statusCode ?? 0, retryAfter: response.headers['retry-after'] as string | undefined });
    });
    socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload })));
    socket.once('close', (code, reason) => {
      clearTimeout(timer);
      resolve({ closed: code, reason: String(reason) });
    });
    socket.on('message', (data) => {
      if ((JSON.parse(String(data)) as { type: string }).type === 'connection_ack') {
        clearTimeout(timer);
        socket.removeAllListeners('close');
        resolve(socket);
      }
    });
  });
}

/** Sends a subscribe with this id and resolves with the first answer's type and payload. */
function subscribe(socket: WebSocket, id: string): Promise<{ type: string; payload?: unknown }> {
  return new Promise((resolve) => {
    const onMessage = (data: WebSocket.RawData) => {
      const message = JSON.parse(String(data)) as { id?: string; type: string; payload?: unknown };
      if (message.id !== id) return;
      socket.off('message', onMessage);
      resolve(message);
    };
    socket.on('message', onMessage);
    socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query: ENTITY } }));
  });
}

describe('rate limits by client address (RATE_LIMIT_PER_SECOND=2, RATE_LIMIT_BURST=3)', () => {
  const fx = useFixture('rate-ip');
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await fx.startGateway({ env: { RATE_LIMIT_PER_SECOND: '2', RATE_LIMIT_BURST: '3' } });
  });

  const post = () => fetch(`${gw.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: LOOKUP });

  it('answers the burst, then 429 GW_RATE_LIMITED with Retry-After, then again after waiting', async () => {
    // The bucket is full: 3 tokens, and 2 more each second from here on.
    const started = performance.now();
    for (let i = 0; i < 3; i++) expect((await post()).status).toBe(200);
    const limited = await post();
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    const body = (await limited.json()) as Refusal;
    expect(body.errors[0]!.extensions).toEqual({ code: 'GW_RATE_LIMITED', retriable: true, details: { retryAfterSeconds: 1 } });
    // Health, readiness and metrics are not counted: they answer while the bucket is empty.
    for (const path of ['/healthz', '/readyz', '/metrics']) expect((await fetch(`${gw.url}${path}`)).status).toBe(200);
    // 600 ms after the burst began the bucket has refilled 1.2 tokens: one answer. A second one
    // needs 2 tokens, so it is refused until 1 s has passed (a slow machine may take longer than
    // that to get here, and then the second answer is allowed).
    await sleep(Math.max(0, started + 600 - performance.now()));
    expect((await post()).status).toBe(200);
    const again = await post();
    if (performance.now() - started < 1000) expect(again.status).toBe(429);
  });

  it('counts WebSocket connection attempts (429 on the upgrade) and subscribes (GW_RATE_LIMITED for that one)', async () => {
    await sleep(1600); // the bucket is full again
    const socket = await connect(fx, gw.url); // 1 token
    expect(socket).toBeInstanceOf(WebSocket);
    const ws = socket as WebSocket;
    expect((await subscribe(ws, 'a')).type).toBe('next'); // 2
    expect((await subscribe(ws, 'b')).type).toBe('next'); // 3
    const refused = await subscribe(ws, 'c');
    expect(refused.type).toBe('error');
    expect((refused.payload as Refusal['errors'])[0]!.extensions).toMatchObject({ code: 'GW_RATE_LIMITED', retriable: true });
    // The socket and its subscriptions stay open; a new connection is refused at the upgrade.
    expect(ws.readyState).toBe(WebSocket.OPEN);
    expect(await connect(fx, gw.url)).toEqual({ status: 429, retryAfter: '1' });
    // HTTP shares the client's bucket.
    expect((await post()).status).toBe(429);
    await sleep(600);
    expect((await subscribe(ws, 'd')).type).toBe('next');
  });
});

describe('rate limits by token subject (client authentication on)', () => {
  const fx = useFixture('rate-sub');
  const SECRET = 'rate-limit-client-secret-0123456789';
  let gw: TestGateway;
  const token = (sub: string) => signClientToken(SECRET, { sub, exp: Math.floor(Date.now() / 1000) + 600 });

  beforeAll(async () => {
    gw = await fx.startGateway({ env: { CLIENT_JWT_SECRET: SECRET, RATE_LIMIT_PER_SECOND: '1', RATE_LIMIT_BURST: '2' } });
  });

  const post = (sub: string) =>
    fetch(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token(sub)}` },
      body: LOOKUP,
    });

  it('keeps one bucket per subject, whatever the address', async () => {
    expect((await post('ana')).status).toBe(200);
    expect((await post('ana')).status).toBe(200);
    const limited = await post('ana');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    // Another subject from the same address is not affected.
    expect((await post('bob')).status).toBe(200);
    // A connection_init over the limit is closed with 1013 (try again later).
    const closed = await connect(fx, gw.url, { authorization: `Bearer ${token('ana')}` });
    expect(closed).toEqual({ closed: 1013, reason: 'GW_RATE_LIMITED: retry after 1 s' });
    expect(await connect(fx, gw.url, { authorization: `Bearer ${token('bob')}` })).toBeInstanceOf(WebSocket);
    await sleep(1100);
    expect((await post('ana')).status).toBe(200);
  });
});

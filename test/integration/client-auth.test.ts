import { beforeAll, describe, expect, it } from 'vitest';
import { signClientToken } from '../../src/server/client-auth.ts';
import { keyed, order } from '../support/data.ts';
import { useFixture } from '../support/fixture.ts';
import type { TestGateway } from '../support/gateway.ts';
import { sseText } from '../support/sse.ts';

const SECRET = 'integration-client-secret-0123456789';
const LOOKUP = JSON.stringify({ query: '{ order(orderId: "ord-000003") { orderId state } }' });
const ENTITY = 'subscription { orderChanged(orderId: "ord-000003") { kind node { orderId } } }';

/** Client authentication is the HTTP layer in front of yoga: every request here goes over a real socket. */
describe('client authentication with CLIENT_JWT_SECRET', () => {
  const fx = useFixture('auth');
  let gw: TestGateway;
  const token = (claims: Record<string, unknown>) => signClientToken(SECRET, claims);
  const inTenMinutes = () => Math.floor(Date.now() / 1000) + 600;
  const valid = () => token({ sub: 'grid-user', aud: 'grid-ui', exp: inTenMinutes() });

  beforeAll(async () => {
    gw = await fx.startGateway({ env: { CLIENT_JWT_SECRET: SECRET, CLIENT_JWT_AUDIENCE: 'grid-ui' } });
    await fx.produce('orders', [keyed('orderId', order(3))]);
    await fx.waitCaughtUp(gw, ['orders']);
  });

  const post = (headers: Record<string, string>) =>
    fetch(`${gw.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: LOOKUP });

  it('answers a query with a valid token, and refuses one without or with a bad token with 401', async () => {
    const ok = await post({ authorization: `Bearer ${valid()}` });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ data: { order: { orderId: 'ord-000003' } } });

    const missing = await post({});
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    expect(await missing.json()).toMatchObject({ errors: [{ extensions: { code: 'GW_AUTH_REQUIRED' } }] });

    for (const [bad, reason] of [
      [signClientToken('some-other-secret-of-enough-length!!', { aud: 'grid-ui', exp: inTenMinutes() }), 'wrong signature'],
      [token({ aud: 'admin-ui', exp: inTenMinutes() }), 'audience'],
      [token({ aud: 'grid-ui', exp: Math.floor(Date.now() / 1000) - 3600 }), 'expired'],
      // A token that never expires is refused unless CLIENT_JWT_REQUIRE_EXP=false.
      [token({ sub: 'grid-user', aud: 'grid-ui' }), 'has no exp'],
    ] as const) {
      const refused = await post({ authorization: `Bearer ${bad}` });
      expect(refused.status).toBe(401);
      const body = (await refused.json()) as { data?: unknown; errors: Array<{ message: string; extensions: { code: string } }> };
      expect(body.errors[0]!.extensions.code).toBe('GW_AUTH_INVALID');
      expect(body.errors[0]!.message).toContain(reason);
      expect(body.data).toBeUndefined();
    }

    // A GET with the operation in the URL is a query too.
    const get = await fetch(`${gw.url}/graphql?query=${encodeURIComponent('{ order(orderId: "ord-000003") { orderId } }')}`, {
      headers: { accept: 'application/json' },
    });
    expect(get.status).toBe(401);
  });

  it('answers a CORS preflight without a token (it carries none), and still refuses the request itself', async () => {
    const preflight = await fetch(`${gw.url}/graphql`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
    });
    expect(preflight.status).toBe(204);
    // No origin is listed here (CORS_ORIGINS unset), so the preflight allows nothing.
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    expect((await post({ origin: 'https://app.example.com' })).status).toBe(401);
  });

  it("keeps GraphiQL's page, health, readiness and metrics open", async () => {
    const page = await fetch(`${gw.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('GraphiQL');
    // A reload of GraphiQL with its query in the URL is the page too: the query only fills the editor.
    const reload = await fetch(`${gw.url}/graphql?query=${encodeURIComponent('{ order(orderId: "ord-000003") { customerId } }')}`, {
      headers: { accept: 'text/html' },
    });
    expect(reload.status).toBe(200);
    const html = await reload.text();
    expect(html).toContain('GraphiQL');
    expect(html).not.toMatch(/"customerId"\s*:\s*"cus-/);
    for (const path of ['/healthz', '/readyz', '/metrics']) expect((await fetch(`${gw.url}${path}`)).status).toBe(200);
  });

  it('refuses SSE without a token and streams with one', async () => {
    const sse = (headers: Record<string, string>, signal?: AbortSignal) =>
      fetch(`${gw.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
        body: JSON.stringify({ query: ENTITY }),
        signal,
      });
    expect((await sse({})).status).toBe(401);
    const abort = fx.abortController();
    const response = await sse({ authorization: `Bearer ${valid()}` }, abort.signal);
    expect(response.status).toBe(200);
    await sseText(response).readUntil('"kind":"SNAPSHOT"');
    abort.abort();
  });

  it('cuts an SSE stream when its token expires, after streaming until then', async () => {
    // Expired 27 s ago: accepted within the 30 s clock skew, so it expires about 3 s from now.
    const expiresAt = Date.now() + 3_000;
    const expiring = token({ aud: 'grid-ui', exp: Math.floor(Date.now() / 1000) - 27 });
    const response = await fetch(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${expiring}` },
      body: JSON.stringify({ query: ENTITY }),
      signal: AbortSignal.timeout(15_000),
    });
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    let text = '';
    let ended: string;
    for (;;) {
      try {
        const { value, done } = await reader.read();
        if (done) {
          ended = 'end';
          break;
        }
        text += Buffer.from(value).toString('utf8');
      } catch (error) {
        ended = error instanceof Error && error.name === 'TimeoutError' ? 'still open after 15 s' : 'cut';
        break;
      }
    }
    expect(text).toContain('"kind":"SNAPSHOT"');
    expect(ended).not.toBe('still open after 15 s');
    // Not before the token's expiry (the token's `exp` has 1 s resolution).
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt - 1_000);
  });

  /** Opens a graphql-ws socket, sends connection_init with `payload`, then one subscribe. */
  const websocket = (payload: Record<string, unknown> | undefined, headers: Record<string, string> = {}) =>
    new Promise<{ closeCode: number | undefined; messages: Array<{ type: string; payload?: unknown }> }>((resolve) => {
      const socket = fx.websocket(gw.url, { headers });
      const messages: Array<{ type: string; payload?: unknown }> = [];
      const timer = setTimeout(() => {
        socket.close();
        resolve({ closeCode: undefined, messages });
      }, 10_000);
      socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload })));
      socket.on('message', (data) => {
        const message = JSON.parse(String(data)) as { type: string; payload?: unknown };
        messages.push(message);
        if (message.type === 'connection_ack') socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: ENTITY } }));
        if (message.type === 'next') {
          clearTimeout(timer);
          socket.close(1000);
          resolve({ closeCode: undefined, messages });
        }
      });
      socket.once('close', (code) => {
        clearTimeout(timer);
        resolve({ closeCode: code, messages });
      });
    });

  it('closes a WebSocket whose connection_init has no or a bad token with 4403, and serves one with a token', async () => {
    const none = await websocket(undefined);
    expect(none.closeCode).toBe(4403);
    expect(none.messages.some((m) => m.type === 'next')).toBe(false);

    const bad = await websocket({ authorization: `Bearer ${token({ aud: 'admin-ui', exp: inTenMinutes() })}` });
    expect(bad.closeCode).toBe(4403);

    const good = await websocket({ authorization: `Bearer ${valid()}` });
    const next = good.messages.find((m) => m.type === 'next') as { payload: { data: { orderChanged: { kind: string } } } } | undefined;
    expect(next?.payload.data.orderChanged.kind).toBe('SNAPSHOT');

    // A server-side client may send the header on the upgrade request instead.
    const header = await websocket(undefined, { authorization: `Bearer ${valid()}` });
    expect(header.messages.some((m) => m.type === 'next')).toBe(true);
  });

  it('closes an open WebSocket with 4403 when its token expires, after serving it until then', async () => {
    // Expired 27 s ago: still accepted within the 30 s clock skew, so it expires about 3 s from now.
    const expiresAt = Date.now() + 3_000;
    const expiring = token({ aud: 'grid-ui', exp: Math.floor(Date.now() / 1000) - 27 });
    const socket = fx.websocket(gw.url);
    const kinds: string[] = [];
    const closed = await new Promise<{ code: number; reason: string; at: number }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the socket was not closed within 15 s')), 15_000);
      socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${expiring}` } })));
      socket.on('message', (data) => {
        const message = JSON.parse(String(data)) as { type: string; payload?: { data?: { orderChanged?: { kind: string } } } };
        if (message.type === 'connection_ack') socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: ENTITY } }));
        if (message.type === 'next') kinds.push(message.payload?.data?.orderChanged?.kind ?? '?');
      });
      socket.once('close', (code, reason) => {
        clearTimeout(timer);
        resolve({ code, reason: String(reason), at: Date.now() });
      });
    });
    expect(kinds).toEqual(['SNAPSHOT']);
    expect(closed.code).toBe(4403);
    expect(closed.reason).toMatch(/expired/);
    // Not before the token's expiry (the token's `exp` has 1 s resolution).
    expect(closed.at).toBeGreaterThanOrEqual(expiresAt - 1_000);
  });
});

describe('client authentication with CLIENT_JWT_REQUIRE_EXP=false', () => {
  const fx = useFixture('auth-noexp');
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await fx.startGateway({ env: { CLIENT_JWT_SECRET: SECRET, CLIENT_JWT_REQUIRE_EXP: 'false' } });
  });

  it('accepts a token without exp, and still refuses an expired one', async () => {
    const post = (token: string) =>
      fetch(`${gw.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: LOOKUP });
    const noExp = await post(signClientToken(SECRET, { sub: 'batch-job' }));
    expect(noExp.status).toBe(200);
    expect(await noExp.json()).toMatchObject({ data: { order: null } });
    const expired = await post(signClientToken(SECRET, { sub: 'batch-job', exp: Math.floor(Date.now() / 1000) - 3600 }));
    expect(expired.status).toBe(401);
  });
});

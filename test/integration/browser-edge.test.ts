/**
 * What a hostile page (or a careless client) can do to /graphql, over real sockets to real
 * gateways: CORS by allow-list, CSRF prevention (simple requests refused), queries only over GET,
 * cross-site WebSocket upgrades, and a WebSocket subscribe that cannot be prepared failing alone.
 */
import { request as httpRequest } from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { keyed, order } from '../support/data.ts';
import { useFixture, type Fixture } from '../support/fixture.ts';
import type { TestGateway } from '../support/gateway.ts';
import { waitFor } from '../support/wait.ts';
import { sseText } from '../support/sse.ts';

const APP = 'https://app.example.com';
const ADMIN = 'https://admin.example.com:8443';
const EVIL = 'https://evil.example';
const QUERY = '{ order(orderId: "ord-000001") { orderId state } }';
const ENTITY = 'subscription { orderChanged(orderId: "ord-000001") { kind node { orderId state } } }';

interface ErrorBody {
  data?: unknown;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
}

const codeOf = async (response: Response): Promise<string | undefined> => ((await response.json()) as ErrorBody).errors?.[0]?.extensions?.code;

describe('browsers and hostile clients at /graphql', () => {
  const fx = useFixture('browser-edge');
  let plain: TestGateway;
  let listed: TestGateway;

  beforeAll(async () => {
    plain = await fx.startGateway({ group: 'plain' });
    listed = await fx.startGateway({ group: 'listed', env: { CORS_ORIGINS: `${APP}, ${ADMIN}` } });
    await fx.produce('orders', [keyed('orderId', order(1))]);
    await fx.waitCaughtUp(plain, ['orders']);
    await fx.waitCaughtUp(listed, ['orders']);
  });

  const postJson = (gw: TestGateway, headers: Record<string, string> = {}, query = QUERY) =>
    fetch(`${gw.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query }) });
  const preflight = (gw: TestGateway, origin: string) =>
    fetch(`${gw.url}/graphql`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, authorization' },
    });

  describe('CORS', () => {
    it('gives no cross-origin access by default: no CORS header for any origin, also on preflight', async () => {
      const response = await postJson(plain, { origin: APP });
      expect(response.status).toBe(200);
      expect(response.headers.get('access-control-allow-origin')).toBeNull();
      expect(response.headers.get('access-control-allow-credentials')).toBeNull();
      const options = await preflight(plain, APP);
      expect(options.headers.get('access-control-allow-origin')).toBeNull();
      expect(options.headers.get('access-control-allow-methods')).toBeNull();
    });

    it('echoes a listed origin, with credentials and Vary: Origin', async () => {
      for (const origin of [APP, ADMIN]) {
        const response = await postJson(listed, { origin });
        expect(response.status).toBe(200);
        expect(response.headers.get('access-control-allow-origin')).toBe(origin);
        expect(response.headers.get('access-control-allow-credentials')).toBe('true');
        expect(response.headers.get('vary')).toMatch(/\bOrigin\b/);
        expect(await response.json()).toMatchObject({ data: { order: { orderId: 'ord-000001' } } });
      }
    });

    it('gives an unlisted origin no CORS header (its page cannot read the answer), and Vary: Origin', async () => {
      for (const origin of [EVIL, 'https://app.example.com.evil.example', 'http://app.example.com', 'null']) {
        const response = await postJson(listed, { origin });
        expect(response.headers.get('access-control-allow-origin')).toBeNull();
        expect(response.headers.get('access-control-allow-credentials')).toBeNull();
        expect(response.headers.get('vary')).toMatch(/\bOrigin\b/);
      }
    });

    it("answers a listed origin's preflight with the allowed methods and headers, and an unlisted one's without", async () => {
      const ok = await preflight(listed, APP);
      expect(ok.status).toBe(204);
      expect(ok.headers.get('access-control-allow-origin')).toBe(APP);
      expect(ok.headers.get('access-control-allow-methods')).toContain('POST');
      expect(ok.headers.get('access-control-allow-headers')).toMatch(/content-type/);
      expect(ok.headers.get('access-control-allow-headers')).toMatch(/authorization/);
      expect(ok.headers.get('access-control-allow-headers')).toMatch(/x-graphql-csrf/);
      const refused = await preflight(listed, EVIL);
      expect(refused.headers.get('access-control-allow-origin')).toBeNull();
      expect(refused.headers.get('access-control-allow-methods')).toBeNull();
    });

    it('lets a listed origin read a refusal made in front of yoga (body too large)', async () => {
      const body = JSON.stringify({ query: `${QUERY}${' '.repeat(300 * 1024)}` });
      const response = await fetch(`${listed.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', origin: APP }, body });
      expect(response.status).toBe(413);
      expect(response.headers.get('access-control-allow-origin')).toBe(APP);
      const unlisted = await fetch(`${listed.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', origin: EVIL }, body });
      expect(unlisted.status).toBe(413);
      expect(unlisted.headers.get('access-control-allow-origin')).toBeNull();
    });
  });

  describe('CSRF prevention', () => {
    it('refuses form-encoded, multipart and text/plain POSTs with 415, with or without the CSRF header', async () => {
      const form = new URLSearchParams({ query: QUERY });
      const multipart = new FormData();
      multipart.set('query', QUERY);
      const bodies: Array<[string, RequestInit]> = [
        ['form-encoded', { body: form }],
        ['multipart', { body: multipart }],
        ['text/plain', { body: JSON.stringify({ query: QUERY }), headers: { 'content-type': 'text/plain' } }],
        ['text/plain with charset', { body: JSON.stringify({ query: QUERY }), headers: { 'content-type': 'text/plain;charset=UTF-8' } }],
      ];
      for (const [name, init] of bodies) {
        for (const csrf of [{}, { 'x-graphql-csrf': '1' }] as Array<Record<string, string>>) {
          const response = await fetch(`${plain.url}/graphql`, {
            method: 'POST',
            ...init,
            headers: { ...(init.headers as Record<string, string>), ...csrf },
          });
          expect(response.status, name).toBe(415);
          expect(await codeOf(response), name).toBe('GW_HTTP_UNSUPPORTED_MEDIA_TYPE');
        }
      }
    });

    it('refuses a POST without content-type and without the CSRF header with 403', async () => {
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const body = JSON.stringify({ query: QUERY });
        const req = httpRequest(`${plain.url}/graphql`, { method: 'POST', headers: { 'content-length': Buffer.byteLength(body) } }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        });
        req.on('error', reject);
        req.end(body);
      });
      expect(answer.status).toBe(403);
      expect((JSON.parse(answer.body) as ErrorBody).errors?.[0]?.extensions?.code).toBe('GW_HTTP_CSRF_REQUIRED');
    });

    const get = (gw: TestGateway, query: string, headers: Record<string, string> = {}) =>
      fetch(`${gw.url}/graphql?query=${encodeURIComponent(query)}`, { headers: { accept: 'application/json', ...headers } });

    it('refuses a GET without the CSRF header with 403, and runs a query with it', async () => {
      const refused = await get(plain, QUERY);
      expect(refused.status).toBe(403);
      expect(await codeOf(refused)).toBe('GW_HTTP_CSRF_REQUIRED');
      for (const header of ['x-graphql-csrf', 'graphql-preflight']) {
        const ok = await get(plain, QUERY, { [header]: '1' });
        expect(ok.status, header).toBe(200);
        expect(await ok.json()).toMatchObject({ data: { order: { orderId: 'ord-000001' } } });
      }
    });

    it('refuses a subscription or a mutation over GET with 405, even as an event stream', async () => {
      for (const [query, accept] of [
        [ENTITY, 'application/json'],
        [ENTITY, 'text/event-stream'],
        ['mutation { anything }', 'application/json'],
      ] as const) {
        const response = await get(plain, query, { 'x-graphql-csrf': '1', accept });
        expect(response.status, query).toBe(405);
        expect(response.headers.get('allow')).toBe('POST');
        // An event stream carries the error as its one event.
        expect(await response.text()).toContain('"code":"GW_HTTP_METHOD_NOT_ALLOWED"');
      }
    });

    it("keeps SSE subscriptions over POST, GraphiQL's page and JSON POSTs working", async () => {
      const abort = fx.abortController();
      const sse = await fetch(`${plain.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({ query: ENTITY }),
        signal: abort.signal,
      });
      expect(sse.status).toBe(200);
      expect(sse.headers.get('content-type')).toContain('text/event-stream');
      await sseText(sse).readUntil('"kind":"SNAPSHOT"');
      abort.abort();

      const page = await fetch(`${plain.url}/graphql`, { headers: { accept: 'text/html' } });
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('GraphiQL');
      // What GraphiQL itself sends: a same-origin JSON POST (here with a charset).
      const graphiql = await fetch(`${plain.url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json; charset=utf-8',
          accept: 'application/graphql-response+json, application/json, multipart/mixed',
        },
        body: JSON.stringify({ query: '{ __schema { queryType { name } } }' }),
      });
      expect(graphiql.status).toBe(200);
      expect(await graphiql.json()).toMatchObject({ data: { __schema: { queryType: { name: 'Query' } } } });
    });
  });

  describe('WebSocket', () => {
    /** Resolves when the socket opens, or with the HTTP status that refused the upgrade. */
    const upgrade = (socket: WebSocket) =>
      new Promise<'open' | number>((resolve) => {
        socket.once('open', () => resolve('open'));
        socket.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
        socket.once('error', () => undefined);
      });

    it("refuses an upgrade from another site's page with 403, and accepts its own, a listed and no origin", async () => {
      expect(await upgrade(fx.websocket(listed.url, { headers: { origin: EVIL } }))).toBe(403);
      expect(await upgrade(fx.websocket(plain.url, { headers: { origin: APP } }))).toBe(403);
      expect(await upgrade(fx.websocket(listed.url, { headers: { origin: APP } }))).toBe('open');
      expect(await upgrade(fx.websocket(plain.url, { headers: { origin: plain.url } }))).toBe('open');
      expect(await upgrade(fx.websocket(plain.url))).toBe('open');
    });

    it('fails a subscribe with a syntax error alone: the socket and its other subscription stay open', async () => {
      const { socket, messages } = await connected(fx, plain.url);
      socket.send(JSON.stringify({ id: 'good', type: 'subscribe', payload: { query: ENTITY } }));
      await waitFor(() => messages.some((m) => m.id === 'good' && m.type === 'next'), { what: 'snapshot of the good subscription' });

      socket.send(JSON.stringify({ id: 'bad', type: 'subscribe', payload: { query: 'subscription { orderChanged(orderId: "x" { kind } }' } }));
      const failed = await waitFor(() => messages.find((m) => m.id === 'bad'), { what: 'answer to the bad subscribe' });
      expect(failed.type).toBe('error');
      const errors = failed.payload as Array<{ message: string; extensions?: { code?: string } }>;
      expect(errors[0]!.message).toMatch(/Syntax Error/);
      expect(errors[0]!.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');

      // Validation errors and an unknown variable type fail alone too.
      socket.send(JSON.stringify({ id: 'invalid', type: 'subscribe', payload: { query: 'subscription { nope }' } }));
      const invalid = await waitFor(() => messages.find((m) => m.id === 'invalid'), { what: 'answer to the invalid subscribe' });
      expect(invalid.type).toBe('error');

      // The good subscription still receives changes, and a new subscribe on the same socket works.
      await fx.produce('orders', [keyed('orderId', order(1, { state: 'SHIPPED', updatedAt: '2027-03-01T00:00:00.000Z' }))]);
      await waitFor(() => messages.some((m) => m.id === 'good' && m.type === 'next' && JSON.stringify(m.payload).includes('"UPSERT"')), {
        what: 'a change on the good subscription after the bad one',
      });
      socket.send(JSON.stringify({ id: 'again', type: 'subscribe', payload: { query: ENTITY } }));
      await waitFor(() => messages.some((m) => m.id === 'again' && m.type === 'next'), { what: 'a new subscription on the same socket' });
      expect(socket.readyState).toBe(socket.OPEN);
    });
  });
});

interface Message {
  id?: string;
  type: string;
  payload?: unknown;
}

/** A graphql-transport-ws socket, acknowledged, with every message it receives. */
async function connected(fx: Fixture, url: string): Promise<{ socket: WebSocket; messages: Message[] }> {
  const socket = fx.websocket(url);
  const messages: Message[] = [];
  socket.on('message', (data) => messages.push(JSON.parse(String(data)) as Message));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init' })));
    socket.once('error', reject);
    socket.once('close', (code) => reject(new Error(`socket closed with ${code}`)));
    const check = setInterval(() => {
      if (messages.some((m) => m.type === 'connection_ack')) {
        clearInterval(check);
        resolve();
      }
    }, 10);
  });
  socket.on('close', (code) => messages.push({ type: `closed ${code}` }));
  return { socket, messages };
}

import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { signClientToken } from '../../src/server/client-auth.ts';
import { keyed, order } from '../support/data.ts';
import { useFixture } from '../support/fixture.ts';
import type { TestGateway } from '../support/gateway.ts';
import { signingKey, signWith, startJwksServer, type JwksServer, type SigningKey } from '../support/jwks.ts';
import { sseText } from '../support/sse.ts';

const LOOKUP = JSON.stringify({ query: '{ order(orderId: "ord-000004") { orderId state } }' });
const ENTITY = 'subscription { orderChanged(orderId: "ord-000004") { kind node { orderId } } }';
const ISSUER = 'https://login.example';

interface Refusal {
  errors: Array<{ message: string; extensions: { code: string; retriable: boolean } }>;
}

/**
 * Client authentication against a local JWKS endpoint (CLIENT_JWKS_URL) with RS256 and ES256
 * keys that rotate, over HTTP, SSE and WebSocket. The tests run in order: the key set changes.
 */
describe('client authentication with CLIENT_JWKS_URL', () => {
  const fx = useFixture('auth-jwks');
  let gw: TestGateway;
  let jwks: JwksServer;
  let rsa: SigningKey;
  let ec: SigningKey;
  const inTenMinutes = () => Math.floor(Date.now() / 1000) + 600;
  const claims = (extra: Record<string, unknown> = {}) => ({ sub: 'grid-user', aud: 'grid-ui', iss: ISSUER, exp: inTenMinutes(), ...extra });

  beforeAll(async () => {
    rsa = await signingKey('RS256', 'rsa-1');
    ec = await signingKey('ES256', 'ec-1');
    jwks = await startJwksServer([rsa, ec]);
    fx.defer(() => jwks.stop(), 'file');
    gw = await fx.startGateway({
      env: { CLIENT_JWKS_URL: jwks.url, CLIENT_JWT_AUDIENCE: 'grid-ui', CLIENT_JWT_ISSUER: ISSUER, CLIENT_JWKS_COOLDOWN_MS: '300' },
    });
    await fx.produce('orders', [keyed('orderId', order(4))]);
    await fx.waitCaughtUp(gw, ['orders']);
  });

  const post = (token: string | undefined) =>
    fetch(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: LOOKUP,
    });

  it('answers queries with RS256 and ES256 tokens from the key set', async () => {
    for (const key of [rsa, ec]) {
      const response = await post(await signWith(key, claims()));
      expect(response.status, key.alg).toBe(200);
      expect(await response.json()).toMatchObject({ data: { order: { orderId: 'ord-000004' } } });
    }
  });

  it('refuses wrong issuer, wrong audience, expired, not yet valid and alg-confused tokens with 401', async () => {
    const now = Math.floor(Date.now() / 1000);
    const cases: Array<[string, string]> = [
      [await signWith(rsa, claims({ iss: 'https://evil.example' })), `was not issued by ${ISSUER}`],
      [await signWith(ec, claims({ aud: 'admin-ui' })), 'is not for audience grid-ui'],
      [await signWith(rsa, claims({ exp: now - 3600 })), 'has expired'],
      [await signWith(ec, claims({ nbf: now + 3600 })), 'is not valid yet'],
      [await signWith(rsa, { sub: 'x', aud: 'grid-ui', iss: ISSUER }), 'has no exp'],
      // HS256 "signed" with the RSA public key's PEM, and with its JWK modulus: the key confusion attack.
      [signClientToken(rsa.pem, claims()), 'uses alg "HS256"; only RS256, ES256 are accepted'],
      [signClientToken(String(rsa.jwk.n), claims()), 'uses alg "HS256"'],
    ];
    for (const [token, reason] of cases) {
      const response = await post(token);
      expect(response.status, reason).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer');
      const body = (await response.json()) as Refusal;
      expect(body.errors[0]!.extensions).toEqual({ code: 'GW_AUTH_INVALID', retriable: false });
      expect(body.errors[0]!.message).toContain(reason);
    }
    expect((await post(undefined)).status).toBe(401);
  });

  it('streams SSE with a token from the key set, and refuses one without', async () => {
    const sse = (token: string | undefined, signal?: AbortSignal) =>
      fetch(`${gw.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ query: ENTITY }),
        signal,
      });
    expect((await sse(undefined)).status).toBe(401);
    expect((await sse(await signWith(ec, claims({ aud: 'other' })))).status).toBe(401);
    const abort = fx.abortController();
    const response = await sse(await signWith(ec, claims()), abort.signal);
    expect(response.status).toBe(200);
    await sseText(response).readUntil('"kind":"SNAPSHOT"');
    abort.abort();
  });

  /** Opens a graphql-ws socket, sends connection_init with the token, then one subscribe. */
  const websocket = (token: string | undefined) =>
    new Promise<{ closeCode: number | undefined; reason: string; kinds: string[] }>((resolve) => {
      const socket = fx.websocket(gw.url);
      const kinds: string[] = [];
      const timer = setTimeout(() => {
        socket.close();
        resolve({ closeCode: undefined, reason: '', kinds });
      }, 10_000);
      socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: token ? { authorization: `Bearer ${token}` } : {} })));
      socket.on('message', (data) => {
        const message = JSON.parse(String(data)) as { type: string; payload?: { data?: { orderChanged?: { kind: string } } } };
        if (message.type === 'connection_ack') socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: ENTITY } }));
        if (message.type === 'next') {
          kinds.push(message.payload?.data?.orderChanged?.kind ?? '?');
          clearTimeout(timer);
          socket.close(1000);
        }
      });
      socket.once('close', (code, reason) => {
        clearTimeout(timer);
        resolve({ closeCode: code, reason: String(reason), kinds });
      });
    });

  it('serves a WebSocket with a token from the key set, and closes one with a bad token with 4403', async () => {
    expect((await websocket(await signWith(rsa, claims()))).kinds).toEqual(['SNAPSHOT']);
    expect((await websocket(await signWith(ec, claims()))).kinds).toEqual(['SNAPSHOT']);
    expect((await websocket(await signWith(rsa, claims({ iss: 'https://evil.example' })))).closeCode).toBe(4403);
    expect((await websocket(signClientToken(rsa.pem, claims()))).closeCode).toBe(4403);
    expect((await websocket(undefined)).closeCode).toBe(4403);
  });

  it('follows a key rotation: a new key works once published, a removed key is refused', async () => {
    const ec2 = await signingKey('ES256', 'ec-2');
    const rsa2 = await signingKey('RS256', 'rsa-2');
    const oldToken = await signWith(rsa, claims());
    jwks.publish([ec2, rsa2]);
    // Past the cooldown since the last fetch, an unknown kid fetches the set again.
    await new Promise((resolve) => setTimeout(resolve, 400));
    for (const key of [ec2, rsa2]) {
      const response = await post(await signWith(key, claims()));
      expect(response.status, key.kid).toBe(200);
    }
    expect((await websocket(await signWith(rsa2, claims()))).kinds).toEqual(['SNAPSHOT']);
    const removed = await post(oldToken);
    expect(removed.status).toBe(401);
    expect(((await removed.json()) as Refusal).errors[0]!.message).toContain('kid "rsa-1"');
    expect((await websocket(oldToken)).closeCode).toBe(4403);
  });

  it('answers 503 GW_AUTH_UNAVAILABLE (retriable, Retry-After) when the key set cannot be fetched, then recovers', async () => {
    const ec3 = await signingKey('ES256', 'ec-3');
    jwks.publish([ec3]);
    jwks.failWith(503);
    await new Promise((resolve) => setTimeout(resolve, 400));
    // An unknown kid makes the gateway fetch the set, which fails: the token is not judged.
    const token = await signWith(ec3, claims());
    const response = await post(token);
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
    const body = (await response.json()) as Refusal;
    expect(body.errors[0]!.extensions).toEqual({ code: 'GW_AUTH_UNAVAILABLE', retriable: true });

    await new Promise((resolve) => setTimeout(resolve, 400));
    const socket = await websocket(token);
    expect(socket.closeCode).toBe(1013);
    expect(socket.reason).toContain('GW_AUTH_UNAVAILABLE');

    jwks.failWith(undefined);
    expect((await post(token)).status).toBe(200);
  });
});

describe('client authentication with CLIENT_JWT_PUBLIC_KEY_FILE', () => {
  const fx = useFixture('auth-pem');
  let gw: TestGateway;
  let ec: SigningKey;

  beforeAll(async () => {
    ec = await signingKey('ES256', 'pem-ec');
    const dir = await fx.tempDir('gw-pem-');
    await writeFile(path.join(dir, 'client.pem'), ec.pem);
    gw = await fx.startGateway({ env: { CLIENT_JWT_PUBLIC_KEY_FILE: path.join(dir, 'client.pem'), CLIENT_JWT_ISSUER: ISSUER } });
  });

  it('accepts ES256 tokens of that key only', async () => {
    const exp = Math.floor(Date.now() / 1000) + 600;
    const post = (token: string) =>
      fetch(`${gw.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: LOOKUP });
    const ok = await post(await signWith(ec, { sub: 'svc', iss: ISSUER, exp }));
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ data: { order: null } });
    const other = await signingKey('ES256', 'pem-other');
    const rsa = await signingKey('RS256', 'pem-rsa');
    for (const [token, reason] of [
      [await signWith(other, { iss: ISSUER, exp }), 'wrong signature'],
      [await signWith(rsa, { iss: ISSUER, exp }), 'only ES256 is accepted'],
      [signClientToken(ec.pem, { iss: ISSUER, exp }), 'only ES256 is accepted'],
      [await signWith(ec, { iss: 'https://evil.example', exp }), 'was not issued by'],
    ] as const) {
      const refused = await post(token);
      expect(refused.status, reason).toBe(401);
      expect(((await refused.json()) as Refusal).errors[0]!.message).toContain(reason);
    }
  });
});

import { createHmac } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SignJWT } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isGatewayError } from '../../src/errors.ts';
import { createClientAuth, onExpiry, readClientPublicKey, signClientToken, type ClientAuth } from '../../src/server/client-auth.ts';
import { signingKey, signWith, startJwksServer, type JwksServer } from '../support/jwks.ts';

const SECRET = 'a-client-secret-of-32-characters!';
const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);
const now = NOW / 1000;
const auth = createClientAuth({ secret: SECRET, audience: 'grid-ui', issuer: 'https://login.example' });
const good = { sub: 'user-1', aud: 'grid-ui', iss: 'https://login.example', exp: now + 600 };

async function failure(authorization: string | undefined, using: ClientAuth = auth): Promise<{ code: string; message: string }> {
  try {
    await using.verify(authorization, NOW);
  } catch (error) {
    if (isGatewayError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('verify accepted the token');
}

function signRaw(header: string, payload: string): string {
  return `${header}.${payload}.${createHmac('sha256', SECRET).update(`${header}.${payload}`).digest('base64url')}`;
}

/** A token with a chosen header, signed correctly, to test what the header may say. */
function withHeader(header: Record<string, unknown>, claims: Record<string, unknown>): string {
  const h = Buffer.from(JSON.stringify(header)).toString('base64url');
  const p = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${h}.${p}.${createHmac('sha256', SECRET).update(`${h}.${p}`).digest('base64url')}`;
}

describe('client bearer tokens signed with a secret (HS256 JWT)', () => {
  it('accepts a token signed with the secret, for the audience and issuer, not expired', async () => {
    // It also says when the token stops being accepted (exp plus the 30 s skew), and keeps the claims.
    expect(await auth.verify(`Bearer ${signClientToken(SECRET, good)}`, NOW)).toEqual({
      subject: 'user-1',
      expiresAtMs: ((good.exp as number) + 30) * 1000,
      claims: good,
    });
    expect((await auth.verify(`bearer   ${signClientToken(SECRET, { ...good, aud: ['other', 'grid-ui'] })}`, NOW)).subject).toBe('user-1');
  });

  it('asks for a token when there is none', async () => {
    expect((await failure(undefined)).code).toBe('GW_AUTH_REQUIRED');
    expect((await failure('  ')).code).toBe('GW_AUTH_REQUIRED');
  });

  const refused: Array<[string, () => string | undefined, string]> = [
    ['another secret', () => `Bearer ${signClientToken('another-secret-that-is-long-enough!', good)}`, 'wrong signature'],
    [
      'a changed payload',
      () => {
        const [h, , s] = signClientToken(SECRET, good).split('.');
        return `Bearer ${h}.${Buffer.from(JSON.stringify({ ...good, sub: 'admin' })).toString('base64url')}.${s}`;
      },
      'wrong signature',
    ],
    ['alg none', () => `Bearer ${withHeader({ alg: 'none' }, good)}`, 'only HS256'],
    ['alg HS512', () => `Bearer ${withHeader({ alg: 'HS512' }, good)}`, 'only HS256'],
    ['expired beyond the skew', () => `Bearer ${signClientToken(SECRET, { ...good, exp: now - 31 })}`, 'expired'],
    ['not valid yet', () => `Bearer ${signClientToken(SECRET, { ...good, nbf: now + 120 })}`, 'not valid yet'],
    ['another audience', () => `Bearer ${signClientToken(SECRET, { ...good, aud: 'admin-ui' })}`, 'audience grid-ui'],
    ['no audience', () => `Bearer ${signClientToken(SECRET, { sub: 'x', iss: good.iss, exp: good.exp })}`, 'audience grid-ui'],
    ['no exp', () => `Bearer ${signClientToken(SECRET, { sub: 'x', aud: good.aud, iss: good.iss })}`, 'has no exp'],
    ['another issuer', () => `Bearer ${signClientToken(SECRET, { ...good, iss: 'https://evil.example' })}`, 'issued by'],
    ['a string exp', () => `Bearer ${signClientToken(SECRET, { ...good, exp: String(now + 600) })}`, 'non-numeric "exp"'],
    ['two parts', () => 'Bearer abc.def', 'not a JWT'],
    [
      'a signed payload that is not JSON',
      () => `Bearer ${signRaw(Buffer.from('{"alg":"HS256"}').toString('base64url'), 'bm90LWpzb24')}`,
      'not a valid JWT',
    ],
    ['basic credentials', () => 'Basic dXNlcjpwYXNz', 'not given as "Bearer <token>"'],
    ['a huge token', () => `Bearer ${'a'.repeat(5000)}.${'b'.repeat(5000)}.c`, 'exceeds'],
  ];
  for (const [name, token, reason] of refused) {
    it(`refuses ${name} with GW_AUTH_INVALID`, async () => {
      const { code, message } = await failure(token());
      expect(code).toBe('GW_AUTH_INVALID');
      expect(message).toContain(reason);
    });
  }

  it('allows 30 s of clock skew on exp and nbf, or as configured', async () => {
    expect((await auth.verify(`Bearer ${signClientToken(SECRET, { ...good, exp: now - 29 })}`, NOW)).subject).toBe('user-1');
    expect((await auth.verify(`Bearer ${signClientToken(SECRET, { ...good, nbf: now + 29 })}`, NOW)).subject).toBe('user-1');
    const strict = createClientAuth({ secret: SECRET, clockSkewSeconds: 5 });
    expect((await failure(`Bearer ${signClientToken(SECRET, { ...good, exp: now - 6 })}`, strict)).message).toContain('expired');
    expect((await failure(`Bearer ${signClientToken(SECRET, { ...good, nbf: now + 6 })}`, strict)).message).toContain('not valid yet');
    expect((await strict.verify(`Bearer ${signClientToken(SECRET, { ...good, exp: now - 4 })}`, NOW)).expiresAtMs).toBe((now + 1) * 1000);
  });

  it('without audience and issuer settings, checks signature and times only', async () => {
    const plain = createClientAuth({ secret: SECRET });
    expect(await plain.verify(`Bearer ${signClientToken(SECRET, { sub: 'svc', exp: now + 60 })}`, NOW)).toEqual({
      subject: 'svc',
      expiresAtMs: (now + 90) * 1000,
      claims: { sub: 'svc', exp: now + 60 },
    });
  });

  it('accepts a token without exp only when told to (requireExp: false), and it never expires', async () => {
    const noExp = `Bearer ${signClientToken(SECRET, { sub: 'svc' })}`;
    await expect(createClientAuth({ secret: SECRET }).verify(noExp, NOW)).rejects.toThrow(/has no exp/);
    await expect(createClientAuth({ secret: SECRET, requireExp: true }).verify(noExp, NOW)).rejects.toThrow(/has no exp/);
    expect(await createClientAuth({ secret: SECRET, requireExp: false }).verify(noExp, NOW)).toEqual({
      subject: 'svc',
      expiresAtMs: undefined,
      claims: { sub: 'svc' },
    });
    // Still checked when present.
    const expired = `Bearer ${signClientToken(SECRET, { sub: 'svc', exp: now - 3600 })}`;
    await expect(createClientAuth({ secret: SECRET, requireExp: false }).verify(expired, NOW)).rejects.toThrow(/has expired/);
  });

  it('accepts HS384 only when listed (CLIENT_JWT_ALGORITHMS)', async () => {
    const token = `Bearer ${await new SignJWT(good).setProtectedHeader({ alg: 'HS384' }).sign(new TextEncoder().encode(SECRET))}`;
    expect((await failure(token)).message).toContain('only HS256 is accepted');
    expect((await createClientAuth({ secret: SECRET, algorithms: ['HS256', 'HS384'] }).verify(token, NOW)).subject).toBe('user-1');
  });
});

describe('client bearer tokens signed with a public key (CLIENT_JWT_PUBLIC_KEY_FILE)', () => {
  it("accepts RS256 with an RSA key and ES256 with a P-256 key, by default the key's own algorithm only", async () => {
    for (const alg of ['RS256', 'ES256'] as const) {
      const key = await signingKey(alg, `k-${alg}`);
      const byKey = createClientAuth({ publicKeyPem: key.pem, audience: 'grid-ui' });
      expect(byKey.algorithms).toEqual([alg]);
      const identity = await byKey.verify(`Bearer ${await signWith(key, { ...good, iss: undefined })}`, NOW);
      expect(identity.subject).toBe('user-1');
      expect(identity.claims.aud).toBe('grid-ui');
      const other = await signingKey(alg, 'other');
      expect((await failure(`Bearer ${await signWith(other, good)}`, byKey)).message).toContain('wrong signature');
    }
  });

  it("refuses alg confusion: an HS256 token whose secret is the public key's own bytes", async () => {
    const key = await signingKey('RS256', 'rsa-1');
    const byKey = createClientAuth({ publicKeyPem: key.pem });
    for (const secret of [key.pem, key.pem.trim(), Buffer.from(key.pem).toString('base64')]) {
      const forged = `Bearer ${signClientToken(secret, good)}`;
      const refused = await failure(forged, byKey);
      expect(refused).toEqual({ code: 'GW_AUTH_INVALID', message: 'the bearer token uses alg "HS256"; only RS256 is accepted' });
    }
    // And alg none, unsigned.
    const unsigned = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify(good)).toString('base64url')}.`;
    expect((await failure(`Bearer ${unsigned}`, byKey)).code).toBe('GW_AUTH_INVALID');
  });

  it('reads the key file and checks it against the algorithms (GW_CONFIG_INVALID naming the variable)', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gw-key-'));
    try {
      const ec = await signingKey('ES256', 'ec');
      const file = path.join(dir, 'ec.pem');
      await writeFile(file, ec.pem);
      expect(readClientPublicKey(file, undefined)).toBe(ec.pem);
      expect(readClientPublicKey(file, ['ES256'])).toBe(ec.pem);
      for (const [target, algorithms, why] of [
        [file, ['RS256'], 'usable with ES256, not RS256'],
        [path.join(dir, 'missing.pem'), undefined, 'readable PEM public key'],
      ] as const) {
        try {
          readClientPublicKey(target, algorithms);
          throw new Error('accepted');
        } catch (error) {
          expect(isGatewayError(error) && error.code).toBe('GW_CONFIG_INVALID');
          expect((error as Error).message).toContain(why);
          expect((error as { details?: unknown }).details).toEqual({ variable: 'CLIENT_JWT_PUBLIC_KEY_FILE' });
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('client bearer tokens checked against a JWKS (CLIENT_JWKS_URL)', () => {
  let jwks: JwksServer;
  // These run on the real clock: jose fetches the set in real time.
  const live = () => ({ ...good, exp: Math.floor(Date.now() / 1000) + 600 });
  afterEach(async () => {
    await jwks?.stop();
  });

  it('accepts RS256 and ES256 keys of the set, fetching it once while it is fresh', async () => {
    const rsa = await signingKey('RS256', 'rsa-1');
    const ec = await signingKey('ES256', 'ec-1');
    jwks = await startJwksServer([rsa, ec]);
    const byJwks = createClientAuth({ jwksUrl: jwks.url, issuer: good.iss });
    expect(byJwks.algorithms).toEqual(['RS256', 'ES256']);
    for (const key of [rsa, ec, rsa]) expect((await byJwks.verify(`Bearer ${await signWith(key, live())}`)).subject).toBe('user-1');
    expect(jwks.fetches).toBe(1);
    expect((await failure(`Bearer ${await signWith(rsa, { ...live(), iss: 'https://evil.example' })}`, byJwks)).message).toContain('issued by');
    // An HS256 token "signed" with a JWK's modulus is refused before any key is looked up.
    expect((await failure(`Bearer ${signClientToken(String(rsa.jwk.n), good)}`, byJwks)).message).toContain('only RS256, ES256 are accepted');
  });

  it('follows a rotation: an unknown kid fetches the set again (after the cooldown), a removed key stops working', async () => {
    const old = await signingKey('RS256', 'old');
    const next = await signingKey('ES256', 'next');
    jwks = await startJwksServer([old]);
    const byJwks = createClientAuth({ jwksUrl: jwks.url, jwksCooldownMs: 200 });
    const oldToken = `Bearer ${await signWith(old, live())}`;
    const nextToken = `Bearer ${await signWith(next, live())}`;
    expect((await byJwks.verify(oldToken)).subject).toBe('user-1');
    jwks.publish([next]);
    // Within the cooldown the set is not fetched again: the new key is unknown yet.
    expect(await failure(nextToken, byJwks)).toEqual({
      code: 'GW_AUTH_INVALID',
      message: 'the bearer token is signed with a key (kid "next") that is not in the key set',
    });
    expect(jwks.fetches).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect((await byJwks.verify(nextToken)).subject).toBe('user-1');
    expect(jwks.fetches).toBe(2);
    // The set fetched for the new key no longer holds the old one.
    expect((await failure(oldToken, byJwks)).message).toContain('kid "old"');
  });

  it('answers GW_AUTH_UNAVAILABLE (retriable) when the set cannot be fetched, and recovers', async () => {
    const key = await signingKey('RS256', 'k1');
    jwks = await startJwksServer([key]);
    const byJwks = createClientAuth({ jwksUrl: jwks.url });
    const token = `Bearer ${await signWith(key, live())}`;
    jwks.failWith(500);
    const refused = await failure(token, byJwks);
    expect(refused.code).toBe('GW_AUTH_UNAVAILABLE');
    expect(refused.message).toContain('Expected 200 OK');
    jwks.failWith(undefined);
    expect((await byJwks.verify(token)).subject).toBe('user-1');

    // Nothing listens there any more.
    const url = jwks.url;
    await jwks.stop();
    const gone = createClientAuth({ jwksUrl: url });
    expect((await failure(token, gone)).code).toBe('GW_AUTH_UNAVAILABLE');
    // A bad token is still refused as bad (its alg), without a fetch.
    expect((await failure(`Bearer ${signClientToken(SECRET, good)}`, gone)).code).toBe('GW_AUTH_INVALID');
  });
});

describe('onExpiry (long-lived connections end with their token)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });
  const DAY = 86_400_000;

  it('runs at the expiry, also beyond the longest setTimeout delay (about 24.8 days)', () => {
    vi.useFakeTimers({ now: NOW });
    let expired = 0;
    onExpiry({ expiresAtMs: NOW + 30 * DAY }, () => expired++);
    vi.advanceTimersByTime(30 * DAY - 1);
    expect(expired).toBe(0);
    vi.advanceTimersByTime(1);
    expect(expired).toBe(1);
  });

  it('runs at once for a token already past its expiry, never without exp, and not once cancelled', () => {
    vi.useFakeTimers({ now: NOW });
    const runs: string[] = [];
    onExpiry({ expiresAtMs: NOW - 1 }, () => runs.push('past'));
    onExpiry({ expiresAtMs: undefined }, () => runs.push('no exp'));
    const cancel = onExpiry({ expiresAtMs: NOW + 1_000 }, () => runs.push('cancelled'));
    cancel();
    vi.advanceTimersByTime(60 * DAY);
    expect(runs).toEqual(['past']);
  });
});

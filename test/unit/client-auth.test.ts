import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isGatewayError } from '../../src/errors.ts';
import { createClientAuth, onExpiry, signClientToken } from '../../src/server/client-auth.ts';

const SECRET = 'a-client-secret-of-32-characters!';
const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);
const now = NOW / 1000;
const auth = createClientAuth({ secret: SECRET, audience: 'grid-ui', issuer: 'https://login.example' });
const good = { sub: 'user-1', aud: 'grid-ui', iss: 'https://login.example', exp: now + 600 };

function failure(authorization: string | undefined): { code: string; message: string } {
  try {
    auth.verify(authorization, NOW);
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

describe('client bearer tokens (HS256 JWT)', () => {
  it('accepts a token signed with the secret, for the audience and issuer, not expired', () => {
    // It also says when the token stops being accepted: exp plus the 30 s skew.
    expect(auth.verify(`Bearer ${signClientToken(SECRET, good)}`, NOW)).toEqual({ subject: 'user-1', expiresAtMs: ((good.exp as number) + 30) * 1000 });
    expect(auth.verify(`bearer   ${signClientToken(SECRET, { ...good, aud: ['other', 'grid-ui'] })}`, NOW).subject).toBe('user-1');
  });

  it('asks for a token when there is none', () => {
    expect(failure(undefined).code).toBe('GW_AUTH_REQUIRED');
    expect(failure('  ').code).toBe('GW_AUTH_REQUIRED');
  });

  const refused: Array<[string, () => string | undefined, string]> = [
    ['another secret', () => `Bearer ${signClientToken('another-secret-that-is-long-enough!', good)}`, 'wrong signature'],
    ['a changed payload', () => {
      const [h, , s] = signClientToken(SECRET, good).split('.');
      return `Bearer ${h}.${Buffer.from(JSON.stringify({ ...good, sub: 'admin' })).toString('base64url')}.${s}`;
    }, 'wrong signature'],
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
    ['a signed payload that is not JSON', () => `Bearer ${signRaw(Buffer.from('{"alg":"HS256"}').toString('base64url'), 'bm90LWpzb24')}`, 'payload that is not base64url JSON'],
    ['basic credentials', () => 'Basic dXNlcjpwYXNz', 'not given as "Bearer <token>"'],
    ['a huge token', () => `Bearer ${'a'.repeat(5000)}.${'b'.repeat(5000)}.c`, 'exceeds'],
  ];
  for (const [name, token, reason] of refused) {
    it(`refuses ${name} with GW_AUTH_INVALID`, () => {
      const { code, message } = failure(token());
      expect(code).toBe('GW_AUTH_INVALID');
      expect(message).toContain(reason);
    });
  }

  it('allows 30 s of clock skew on exp and nbf', () => {
    expect(auth.verify(`Bearer ${signClientToken(SECRET, { ...good, exp: now - 29 })}`, NOW).subject).toBe('user-1');
    expect(auth.verify(`Bearer ${signClientToken(SECRET, { ...good, nbf: now + 29 })}`, NOW).subject).toBe('user-1');
  });

  it('without audience and issuer settings, checks signature and times only', () => {
    const plain = createClientAuth({ secret: SECRET });
    expect(plain.verify(`Bearer ${signClientToken(SECRET, { sub: 'svc', exp: now + 60 })}`, NOW)).toEqual({ subject: 'svc', expiresAtMs: (now + 90) * 1000 });
  });

  it('accepts a token without exp only when told to (requireExp: false), and it never expires', () => {
    const noExp = `Bearer ${signClientToken(SECRET, { sub: 'svc' })}`;
    expect(() => createClientAuth({ secret: SECRET }).verify(noExp, NOW)).toThrow(/has no exp/);
    expect(() => createClientAuth({ secret: SECRET, requireExp: true }).verify(noExp, NOW)).toThrow(/has no exp/);
    expect(createClientAuth({ secret: SECRET, requireExp: false }).verify(noExp, NOW)).toEqual({ subject: 'svc', expiresAtMs: undefined });
    // Still checked when present.
    const expired = `Bearer ${signClientToken(SECRET, { sub: 'svc', exp: now - 3600 })}`;
    expect(() => createClientAuth({ secret: SECRET, requireExp: false }).verify(expired, NOW)).toThrow(/has expired/);
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
    onExpiry({ subject: undefined, expiresAtMs: NOW + 30 * DAY }, () => expired++);
    vi.advanceTimersByTime(30 * DAY - 1);
    expect(expired).toBe(0);
    vi.advanceTimersByTime(1);
    expect(expired).toBe(1);
  });

  it('runs at once for a token already past its expiry, never without exp, and not once cancelled', () => {
    vi.useFakeTimers({ now: NOW });
    const runs: string[] = [];
    onExpiry({ subject: undefined, expiresAtMs: NOW - 1 }, () => runs.push('past'));
    onExpiry({ subject: undefined, expiresAtMs: undefined }, () => runs.push('no exp'));
    const cancel = onExpiry({ subject: undefined, expiresAtMs: NOW + 1_000 }, () => runs.push('cancelled'));
    cancel();
    vi.advanceTimersByTime(60 * DAY);
    expect(runs).toEqual(['past']);
  });
});

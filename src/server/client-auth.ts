/**
 * Client authentication, when configured (`CLIENT_JWT_SECRET`): every GraphQL request carries
 * `Authorization: Bearer <token>`, a JSON Web Token signed with HMAC-SHA256 under that secret
 * (RFC 7519, `alg` HS256 only). Over WebSocket the token goes in the `connection_init` payload as
 * `authorization` (browsers cannot set headers on a WebSocket), or in the upgrade request's header.
 *
 * Checked: the signature (constant time), `exp` (required unless CLIENT_JWT_REQUIRE_EXP=false)
 * and `nbf` with a small clock skew, and `aud` / `iss` when CLIENT_JWT_AUDIENCE /
 * CLIENT_JWT_ISSUER are set. Anything else fails with
 * GW_AUTH_INVALID naming the reason; a request without a token fails with GW_AUTH_REQUIRED.
 * The token's claims are not used for authorization: an authenticated client reads every view.
 * A WebSocket or an SSE stream lives no longer than the token it was opened with: the socket is
 * closed with 4403, or the stream ended, when the token expires, and the client reconnects with a
 * fresh one (subscriptions resume from their tokens).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { GatewayError } from '../errors.ts';

export interface ClientAuthOptions {
  readonly secret: string;
  readonly audience?: string | undefined;
  readonly issuer?: string | undefined;
  /** Tolerance for `exp` and `nbf`, in seconds (default 30). */
  readonly clockSkewSeconds?: number;
  /** Whether a token without `exp` is refused (default true): a token that never expires is not accepted. */
  readonly requireExp?: boolean;
}

export interface ClientIdentity {
  /** The token's `sub`, for logs. */
  readonly subject: string | undefined;
  /**
   * When the token stops being accepted (its `exp` plus the clock skew), in ms since the epoch;
   * undefined for a token without `exp` (accepted only with `requireExp: false`). Long-lived
   * connections end then.
   */
  readonly expiresAtMs: number | undefined;
}

export interface ClientAuth {
  /** Verifies an Authorization header value (or a bare token); throws GW_AUTH_REQUIRED / GW_AUTH_INVALID. */
  verify(authorization: string | undefined, nowMs?: number): ClientIdentity;
}

const MAX_TOKEN_LENGTH = 8192;
const SEGMENT = /^[A-Za-z0-9_-]+$/;

function invalid(why: string): GatewayError {
  return new GatewayError('GW_AUTH_INVALID', `the bearer token ${why}`);
}

function decodeJson(segment: string, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw invalid(`has a ${what} that is not base64url JSON`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw invalid(`has a ${what} that is not a JSON object`);
  return parsed as Record<string, unknown>;
}

function numericClaim(claims: Record<string, unknown>, name: string): number | undefined {
  const value = claims[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(`has a non-numeric "${name}" claim`);
  return value;
}

export function createClientAuth(options: ClientAuthOptions): ClientAuth {
  const key = Buffer.from(options.secret, 'utf8');
  const skew = options.clockSkewSeconds ?? 30;
  const requireExp = options.requireExp ?? true;
  return {
    verify(authorization, nowMs = Date.now()) {
      if (authorization === undefined || authorization.trim() === '') {
        throw new GatewayError('GW_AUTH_REQUIRED', 'this gateway requires "Authorization: Bearer <token>"');
      }
      const match = /^\s*Bearer\s+(\S+)\s*$/i.exec(authorization) ?? /^\s*(\S+\.\S+\.\S+)\s*$/.exec(authorization);
      if (!match) throw invalid('is not given as "Bearer <token>"');
      const token = match[1]!;
      if (token.length > MAX_TOKEN_LENGTH) throw invalid(`exceeds ${MAX_TOKEN_LENGTH} characters`);
      const parts = token.split('.');
      if (parts.length !== 3 || !parts.every((part) => SEGMENT.test(part))) throw invalid('is not a JWT (three base64url parts)');
      const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
      const header = decodeJson(headerPart, 'header');
      // Only the configured algorithm: a token may not pick "none" or an asymmetric one.
      if (header.alg !== 'HS256') throw invalid(`uses alg ${JSON.stringify(header.alg)}; only HS256 is accepted`);
      const expected = createHmac('sha256', key).update(`${headerPart}.${payloadPart}`).digest();
      const given = Buffer.from(signaturePart, 'base64url');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid('has a wrong signature');
      const claims = decodeJson(payloadPart, 'payload');
      const now = nowMs / 1000;
      const exp = numericClaim(claims, 'exp');
      if (exp === undefined && requireExp) throw invalid('has no exp (expiry) claim');
      if (exp !== undefined && now > exp + skew) throw invalid('has expired');
      const nbf = numericClaim(claims, 'nbf');
      if (nbf !== undefined && now < nbf - skew) throw invalid('is not valid yet (nbf)');
      if (options.issuer !== undefined && claims.iss !== options.issuer) throw invalid(`was not issued by ${options.issuer}`);
      if (options.audience !== undefined) {
        const audience = claims.aud;
        const listed = Array.isArray(audience) ? audience.includes(options.audience) : audience === options.audience;
        if (!listed) throw invalid(`is not for audience ${options.audience}`);
      }
      return {
        subject: typeof claims.sub === 'string' ? claims.sub : undefined,
        expiresAtMs: exp === undefined ? undefined : (exp + skew) * 1000,
      };
    },
  };
}

/** The longest delay setTimeout takes (about 24.8 days); a later expiry is waited for in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Runs `expire` when the identity's token stops being accepted, for connections that outlive a
 * request (WebSocket, SSE). Returns a function that cancels it; a token without `exp` (accepted
 * only with `requireExp: false`) never expires.
 */
export function onExpiry(identity: ClientIdentity, expire: () => void): () => void {
  const at = identity.expiresAtMs;
  if (at === undefined) return () => undefined;
  let timer: NodeJS.Timeout;
  const arm = (): void => {
    const left = at - Date.now();
    timer = left > MAX_TIMER_MS ? setTimeout(arm, MAX_TIMER_MS) : setTimeout(expire, Math.max(0, left));
    timer.unref();
  };
  arm();
  return () => clearTimeout(timer);
}

/** Signs claims as an HS256 JWT: for tests, the demo and operators' scripts. */
export function signClientToken(secret: string, claims: Record<string, unknown>): string {
  const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}

/**
 * Client authentication, when configured: every GraphQL request carries
 * `Authorization: Bearer <token>`, a JSON Web Token (RFC 7519) verified with `jose` against one
 * key source:
 *
 * - `CLIENT_JWT_SECRET`: a shared secret, HS256 by default;
 * - `CLIENT_JWT_PUBLIC_KEY_FILE`: a PEM public key (SPKI), the key's own algorithm by default
 *   (RS256 for RSA, ES256 for P-256, ES384, ES512, EdDSA);
 * - `CLIENT_JWKS_URL`: a JSON Web Key Set fetched over HTTP(S), RS256 and ES256 by default. The set
 *   is cached (fetched again once older than CLIENT_JWKS_MAX_AGE_MS), and a token whose `kid` is
 *   not in it makes it fetch the set again, at most once per CLIENT_JWKS_COOLDOWN_MS: keys rotate
 *   without a restart, and a key removed from the set stops being accepted once the set is fetched
 *   again.
 *
 * The accepted algorithms are CLIENT_JWT_ALGORITHMS (or the default above); a token naming another
 * one (`none`, or HS256 signed with a public key's bytes) is refused before any key is looked up.
 * Over WebSocket the token goes in the `connection_init` payload as `authorization` (browsers
 * cannot set headers on a WebSocket), or in the upgrade request's header.
 *
 * Checked: the signature, `exp` (required unless CLIENT_JWT_REQUIRE_EXP=false) and `nbf` with
 * CLIENT_JWT_CLOCK_SKEW_SECONDS of tolerance, and `aud` / `iss` when CLIENT_JWT_AUDIENCE /
 * CLIENT_JWT_ISSUER are set. A token failing any check fails with GW_AUTH_INVALID naming the
 * reason; a request without a token with GW_AUTH_REQUIRED; a JWKS that cannot be fetched with
 * GW_AUTH_UNAVAILABLE (503, retriable): the token was not checked, not found bad.
 *
 * The verified claims are kept with the request (`context.claims`) for authorization rules; today
 * an authenticated client reads every view. A WebSocket or an SSE stream lives no longer than the
 * token it was opened with: the socket is closed with 4403, or the stream ended, when the token
 * expires, and the client reconnects with a fresh one (subscriptions resume from their tokens).
 *
 * One unit, longer than most files: the three key sources share one verification path and one
 * set of claim checks, and `onExpiry` ends the connections a token opened.
 */
import { createHmac, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions } from 'jose';
import { GatewayError } from '../errors.ts';

export interface ClientAuthOptions {
  /** The key source: exactly one of these. */
  readonly secret?: string | undefined;
  /** A PEM public key (SPKI), as text. */
  readonly publicKeyPem?: string | undefined;
  readonly jwksUrl?: string | undefined;
  /** Accepted `alg` values; by default HS256 (secret), RS256 and ES256 (JWKS), the key's own (PEM). */
  readonly algorithms?: readonly string[] | undefined;
  readonly audience?: string | undefined;
  readonly issuer?: string | undefined;
  /** Tolerance for `exp` and `nbf`, in seconds (default 30). */
  readonly clockSkewSeconds?: number;
  /** Whether a token without `exp` is refused (default true): a token that never expires is not accepted. */
  readonly requireExp?: boolean;
  /** JWKS: least time between fetches caused by an unknown `kid` (default 30 s). */
  readonly jwksCooldownMs?: number;
  /** JWKS: age after which the set is fetched again before use (default 10 min). */
  readonly jwksMaxAgeMs?: number;
  /** JWKS: bound on one fetch (default 5 s). */
  readonly jwksTimeoutMs?: number;
}

export interface ClientIdentity {
  /** The token's `sub`: for logs and per-client rate limits. */
  readonly subject: string | undefined;
  /**
   * When the token stops being accepted (its `exp` plus the clock skew), in ms since the epoch;
   * undefined for a token without `exp` (accepted only with `requireExp: false`). Long-lived
   * connections end then.
   */
  readonly expiresAtMs: number | undefined;
  /** The verified claims, for authorization rules (`context.claims`). */
  readonly claims: Readonly<Record<string, unknown>>;
}

export interface ClientAuth {
  /** The algorithms tokens may use. */
  readonly algorithms: readonly string[];
  /**
   * Verifies an Authorization header value (or a bare token); rejects with GW_AUTH_REQUIRED,
   * GW_AUTH_INVALID, or GW_AUTH_UNAVAILABLE when the key set cannot be fetched.
   */
  verify(authorization: string | undefined, nowMs?: number): Promise<ClientIdentity>;
}

const MAX_TOKEN_LENGTH = 8192;

function invalid(why: string): GatewayError {
  return new GatewayError('GW_AUTH_INVALID', `the bearer token ${why}`);
}

/** The algorithm a public key signs with: the default for a PEM key file. */
function keyAlgorithm(key: KeyObject): string | undefined {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'rsa-pss') return 'PS256';
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'ec') {
    return { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' }[key.asymmetricKeyDetails?.namedCurve ?? ''];
  }
  return undefined;
}

/** Algorithms a key of this type verifies. */
function algorithmsFor(key: KeyObject): readonly string[] {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
    case 'rsa-pss':
      return ['PS256', 'PS384', 'PS512'];
    case 'ed25519':
      return ['EdDSA'];
    default: {
      const own = keyAlgorithm(key);
      return own ? [own] : [];
    }
  }
}

/**
 * Reads CLIENT_JWT_PUBLIC_KEY_FILE: a PEM public key, and checks it against the algorithms. Throws
 * GW_CONFIG_INVALID naming the variable.
 */
export function readClientPublicKey(file: string, algorithms: readonly string[] | undefined): string {
  const variable = 'CLIENT_JWT_PUBLIC_KEY_FILE';
  let pem: string;
  let key: KeyObject;
  try {
    pem = readFileSync(file, 'utf8');
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (error) {
    throw new GatewayError('GW_CONFIG_INVALID', `${variable} must be a readable PEM public key (SPKI); ${file}: ${(error as Error).message}`, {
      details: { variable },
      cause: error,
    });
  }
  const usable = algorithmsFor(key);
  const wrong = (algorithms ?? []).filter((alg) => !usable.includes(alg));
  if (usable.length === 0 || wrong.length > 0) {
    throw new GatewayError(
      'GW_CONFIG_INVALID',
      `${variable} must be a key for the accepted algorithms; ${file} is a ${key.asymmetricKeyType} key, usable with ${usable.join(', ') || 'none of them'}${wrong.length > 0 ? `, not ${wrong.join(', ')} (CLIENT_JWT_ALGORITHMS)` : ''}`,
      { details: { variable } },
    );
  }
  return pem;
}

/** Why a key source failed rather than the token: answered 503, not 401. */
class KeySourceUnavailable extends Error {}

/** The token's `alg`, for messages; undefined when the header does not decode. */
function headerAlg(token: string): unknown {
  try {
    return decodeProtectedHeader(token).alg;
  } catch {
    return undefined;
  }
}

/** GW_AUTH_INVALID (or GW_AUTH_UNAVAILABLE) for what jose threw. */
function refusal(error: unknown, token: string, options: ClientAuthOptions, algorithms: readonly string[]): GatewayError {
  if (error instanceof KeySourceUnavailable) {
    return new GatewayError('GW_AUTH_UNAVAILABLE', `the keys to check the bearer token with could not be fetched: ${error.message}`, {
      cause: error.cause,
    });
  }
  if (error instanceof errors.JOSEAlgNotAllowed) {
    return invalid(`uses alg ${JSON.stringify(headerAlg(token))}; only ${algorithms.join(', ')} ${algorithms.length > 1 ? 'are' : 'is'} accepted`);
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return invalid('has a wrong signature');
  if (error instanceof errors.JWTExpired) return invalid('has expired');
  if (error instanceof errors.JWKSNoMatchingKey) {
    let kid: unknown;
    try {
      kid = decodeProtectedHeader(token).kid;
    } catch {
      kid = undefined;
    }
    return invalid(`is signed with a key (kid ${JSON.stringify(kid ?? null)}) that is not in the key set`);
  }
  if (error instanceof errors.JWKSMultipleMatchingKeys) return invalid('names no kid and the key set holds several matching keys');
  if (error instanceof errors.JWTClaimValidationFailed) {
    const { claim, reason } = error;
    if (claim === 'exp' && reason === 'missing') return invalid('has no exp (expiry) claim');
    if (claim === 'nbf' && reason === 'check_failed') return invalid('is not valid yet (nbf)');
    if (claim === 'iss') return invalid(`was not issued by ${options.issuer}`);
    if (claim === 'aud') return invalid(`is not for audience ${options.audience}`);
    if (reason === 'invalid') return invalid(`has a non-numeric "${claim}" claim`);
    return invalid(`fails its "${claim}" claim check (${reason})`);
  }
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return invalid(`is not a valid JWT: ${error.message}`);
  // Anything else (a key of the wrong type for the named algorithm, an unsupported one): refused.
  return invalid(`could not be verified: ${error instanceof Error ? error.message : String(error)}`);
}

export function createClientAuth(options: ClientAuthOptions): ClientAuth {
  const skew = options.clockSkewSeconds ?? 30;
  const requireExp = options.requireExp ?? true;
  let key: Uint8Array | KeyObject | JWTVerifyGetKey;
  let algorithms: readonly string[];
  if (options.secret !== undefined) {
    key = new TextEncoder().encode(options.secret);
    algorithms = options.algorithms ?? ['HS256'];
  } else if (options.publicKeyPem !== undefined) {
    const publicKey = createPublicKey({ key: options.publicKeyPem, format: 'pem' });
    key = publicKey;
    const own = keyAlgorithm(publicKey);
    algorithms = options.algorithms ?? (own ? [own] : []);
  } else if (options.jwksUrl !== undefined) {
    const remote = createRemoteJWKSet(new URL(options.jwksUrl), {
      cooldownDuration: options.jwksCooldownMs ?? 30_000,
      cacheMaxAge: options.jwksMaxAgeMs ?? 600_000,
      timeoutDuration: options.jwksTimeoutMs ?? 5_000,
    });
    key = async (header, token) => {
      try {
        return await remote(header, token);
      } catch (error) {
        // No key for this token (unknown kid, no key of the algorithm's type): the token's fault.
        if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) throw error;
        // The set could not be fetched, or was not a key set: the key source's fault.
        const why = error instanceof errors.JWKSTimeout ? 'timed out' : error instanceof Error ? error.message : String(error);
        throw new KeySourceUnavailable(`${options.jwksUrl}: ${why}`, { cause: error });
      }
    };
    algorithms = options.algorithms ?? ['RS256', 'ES256'];
  } else {
    throw new Error('createClientAuth needs a secret, a public key or a JWKS URL');
  }
  if (algorithms.length === 0 || algorithms.includes('none')) throw new Error('createClientAuth needs algorithms other than none');
  const base: JWTVerifyOptions = {
    algorithms: [...algorithms],
    clockTolerance: skew,
    ...(options.audience !== undefined ? { audience: options.audience } : {}),
    ...(options.issuer !== undefined ? { issuer: options.issuer } : {}),
    ...(requireExp ? { requiredClaims: ['exp'] } : {}),
  };
  return {
    algorithms,
    async verify(authorization, nowMs) {
      if (authorization === undefined || authorization.trim() === '') {
        throw new GatewayError('GW_AUTH_REQUIRED', 'this gateway requires "Authorization: Bearer <token>"');
      }
      const match = /^\s*Bearer\s+(\S+)\s*$/i.exec(authorization) ?? /^\s*(\S+\.\S+\.\S+)\s*$/.exec(authorization);
      if (!match) throw invalid('is not given as "Bearer <token>"');
      const token = match[1]!;
      if (token.length > MAX_TOKEN_LENGTH) throw invalid(`exceeds ${MAX_TOKEN_LENGTH} characters`);
      if (token.split('.').length !== 3) throw invalid('is not a JWT (three base64url parts)');
      let payload: JWTPayload;
      try {
        const verifyOptions = nowMs === undefined ? base : { ...base, currentDate: new Date(nowMs) };
        // One call per key kind: jose types the key argument per overload.
        payload =
          typeof key === 'function' ? (await jwtVerify(token, key, verifyOptions)).payload : (await jwtVerify(token, key, verifyOptions)).payload;
      } catch (error) {
        throw refusal(error, token, options, algorithms);
      }
      return {
        subject: typeof payload.sub === 'string' ? payload.sub : undefined,
        expiresAtMs: payload.exp === undefined ? undefined : (payload.exp + skew) * 1000,
        claims: payload,
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
export function onExpiry(identity: Pick<ClientIdentity, 'expiresAtMs'>, expire: () => void): () => void {
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

import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { type GatewayError, isGatewayError } from '../../src/errors.ts';
import { clientKey, createRateLimiter } from '../../src/server/rate-limit.ts';
import { parseTrustedDocuments, requestedDocumentId } from '../../src/server/trusted-documents.ts';
import { withoutSuggestions } from '../../src/server/introspection.ts';
import { GraphQLError } from 'graphql';

const BASE = { KAFKA_BROKERS: '127.0.0.1:9092' };

function configError(env: Record<string, string>): GatewayError {
  try {
    loadConfig(env);
  } catch (error) {
    if (isGatewayError(error)) return error;
    throw error;
  }
  throw new Error('loadConfig accepted the environment');
}

describe('token buckets per client', () => {
  it('lets a burst through, then one request per 1/rate seconds, and says how long to wait', () => {
    const limiter = createRateLimiter({ perSecond: 2, burst: 3 });
    const t = 1_000_000;
    expect([limiter.take('a', t), limiter.take('a', t), limiter.take('a', t)]).toEqual([undefined, undefined, undefined]);
    expect(limiter.take('a', t)).toBe(500);
    expect(limiter.take('a', t + 400)).toBe(100);
    expect(limiter.take('a', t + 500)).toBeUndefined();
    // Other clients have their own bucket.
    expect(limiter.take('b', t + 500)).toBeUndefined();
    // Refills to the burst, not beyond.
    for (let i = 0; i < 3; i++) expect(limiter.take('a', t + 60_000)).toBeUndefined();
    expect(limiter.take('a', t + 60_000)).toBe(500);
  });

  it('throws GW_RATE_LIMITED with whole seconds to wait', () => {
    const limiter = createRateLimiter({ perSecond: 0.25 * 4, burst: 1 });
    limiter.check('a', 0);
    try {
      limiter.check('a', 1);
      throw new Error('not limited');
    } catch (error) {
      expect(error).toMatchObject({ code: 'GW_RATE_LIMITED', retriable: true, status: 429, details: { retryAfterSeconds: 1 } });
    }
  });

  it('holds at most maxClients buckets, dropping the least recently seen', () => {
    const limiter = createRateLimiter({ perSecond: 1, burst: 1, maxClients: 100 });
    for (let i = 0; i < 1000; i++) limiter.take(`ip:${i}`, 0);
    expect(limiter.size).toBe(100);
    // A dropped client comes back with a full bucket; a kept one is still empty.
    expect(limiter.take('ip:0', 0)).toBeUndefined();
    expect(limiter.take('ip:999', 0)).toBe(1000);
  });

  it('keys by subject, else by address', () => {
    expect(clientKey('ana', '10.0.0.1')).toBe('sub:ana');
    expect(clientKey(undefined, '10.0.0.1')).toBe('ip:10.0.0.1');
  });
});

describe('trusted documents manifest', () => {
  const HASH = 'a'.repeat(64);

  it('reads the client preset format and finds documents by id, with or without sha256:', () => {
    const documents = parseTrustedDocuments(JSON.stringify({ [HASH]: '{ a }', [`sha256:${'B'.repeat(64)}`]: '{ b }', custom: '{ c }' }));
    expect(documents.size).toBe(3);
    expect(documents.get(HASH)).toBe('{ a }');
    expect(documents.get(`sha256:${HASH.toUpperCase()}`)).toBe('{ a }');
    expect(documents.get('b'.repeat(64))).toBe('{ b }');
    expect(documents.get('custom')).toBe('{ c }');
    expect(documents.get('c'.repeat(64))).toBeUndefined();
  });

  it('refuses what is not a map of ids to document texts', () => {
    for (const bad of ['[]', '"x"', 'null', '{"a": 1}', '{"a": ""}', '{"": "{ a }"}', 'not json']) {
      expect(() => parseTrustedDocuments(bad), bad).toThrow();
    }
  });

  it('takes the id from documentId, then the APQ hash, then (GET) the URL', () => {
    expect(requestedDocumentId({ documentId: 'x', extensions: { persistedQuery: { sha256Hash: 'y' } } })).toBe('x');
    expect(requestedDocumentId({ extensions: { persistedQuery: { version: 1, sha256Hash: 'y' } } })).toBe('y');
    expect(requestedDocumentId({}, 'http://h/graphql?documentId=z&variables=%7B%7D')).toBe('z');
    expect(requestedDocumentId({ documentId: 5, extensions: 'x' })).toBeUndefined();
  });
});

describe('suggestions hidden with INTROSPECTION=false', () => {
  it('cuts "Did you mean" from messages and keeps the rest', () => {
    const error = new GraphQLError('Cannot query field "ordr" on type "Query". Did you mean "order" or "orders"?', { extensions: { code: 'X' } });
    const cut = withoutSuggestions(error);
    expect(cut.message).toBe('Cannot query field "ordr" on type "Query".');
    expect(cut.extensions).toEqual({ code: 'X' });
    const enumError = new GraphQLError(
      'Variable "$s" got invalid value "SHIPPD"; Value "SHIPPD" does not exist in "OrderState" enum. Did you mean the enum value "SHIPPED"?',
    );
    expect(withoutSuggestions(enumError).message).toBe(
      'Variable "$s" got invalid value "SHIPPD"; Value "SHIPPD" does not exist in "OrderState" enum.',
    );
    const plain = new GraphQLError('Syntax Error: Expected Name, found <EOF>.');
    expect(withoutSuggestions(plain)).toBe(plain);
  });
});

describe('security configuration', () => {
  it('is off by default: no client authentication, trusted documents, rate limit or TLS; GraphiQL and introspection on', () => {
    const config = loadConfig(BASE);
    expect(config).toMatchObject({
      clientAuth: undefined,
      trustedDocumentsFile: undefined,
      rateLimit: undefined,
      tls: undefined,
      peerTlsCaFile: undefined,
      graphiql: true,
      introspection: true,
      metricsToken: undefined,
    });
  });

  it('reads each key source with its defaults', () => {
    expect(loadConfig({ ...BASE, CLIENT_JWKS_URL: 'https://login.example/jwks.json' }).clientAuth).toEqual({
      secret: undefined,
      publicKeyFile: undefined,
      jwksUrl: 'https://login.example/jwks.json',
      algorithms: undefined,
      audience: undefined,
      issuer: undefined,
      requireExp: true,
      clockSkewSeconds: 30,
      jwksCooldownMs: 30_000,
      jwksMaxAgeMs: 600_000,
      jwksTimeoutMs: 5000,
    });
    expect(loadConfig({ ...BASE, CLIENT_JWT_PUBLIC_KEY_FILE: 'keys/client.pem', CLIENT_JWT_ALGORITHMS: 'ES256, RS256' }).clientAuth).toMatchObject({
      publicKeyFile: expect.stringMatching(/\/keys\/client\.pem$/),
      algorithms: ['ES256', 'RS256'],
    });
    expect(loadConfig({ ...BASE, CLIENT_JWT_SECRET: 's'.repeat(32), CLIENT_JWT_ALGORITHMS: 'HS512' }).clientAuth?.algorithms).toEqual(['HS512']);
  });

  it('reads rate limits (burst defaults to the rate), TLS, and the production switches', () => {
    expect(loadConfig({ ...BASE, RATE_LIMIT_PER_SECOND: '20' }).rateLimit).toEqual({ perSecond: 20, burst: 20 });
    expect(loadConfig({ ...BASE, RATE_LIMIT_PER_SECOND: '20', RATE_LIMIT_BURST: '100' }).rateLimit).toEqual({ perSecond: 20, burst: 100 });
    const tls = loadConfig({ ...BASE, TLS_CERT_FILE: '/etc/gw/tls.crt', TLS_KEY_FILE: '/etc/gw/tls.key', PORT: '4443' });
    expect(tls.tls).toEqual({ certFile: '/etc/gw/tls.crt', keyFile: '/etc/gw/tls.key' });
    expect(tls.advertisedUrl).toBe('https://127.0.0.1:4443');
    const switches = loadConfig({ ...BASE, GRAPHIQL: 'false', INTROSPECTION: 'false', METRICS_TOKEN: 'm'.repeat(16) });
    expect(switches).toMatchObject({ graphiql: false, introspection: false, metricsToken: 'm'.repeat(16) });
  });

  const refused: Array<[string, Record<string, string>]> = [
    ['CLIENT_JWT_PUBLIC_KEY_FILE', { CLIENT_JWT_SECRET: 's'.repeat(32), CLIENT_JWT_PUBLIC_KEY_FILE: 'k.pem' }],
    ['CLIENT_JWKS_URL', { CLIENT_JWT_SECRET: 's'.repeat(32), CLIENT_JWKS_URL: 'https://x/jwks' }],
    ['CLIENT_JWKS_URL', { CLIENT_JWKS_URL: 'ftp://x/jwks' }],
    ['CLIENT_JWKS_URL', { CLIENT_JWKS_URL: 'not a url' }],
    ['CLIENT_JWT_ALGORITHMS', { CLIENT_JWT_SECRET: 's'.repeat(32), CLIENT_JWT_ALGORITHMS: 'RS256' }],
    ['CLIENT_JWT_ALGORITHMS', { CLIENT_JWKS_URL: 'https://x/jwks', CLIENT_JWT_ALGORITHMS: 'HS256' }],
    ['CLIENT_JWT_ALGORITHMS', { CLIENT_JWKS_URL: 'https://x/jwks', CLIENT_JWT_ALGORITHMS: 'none' }],
    ['CLIENT_JWT_ALGORITHMS', { CLIENT_JWT_ALGORITHMS: 'RS256' }],
    ['CLIENT_JWT_CLOCK_SKEW_SECONDS', { CLIENT_JWT_SECRET: 's'.repeat(32), CLIENT_JWT_CLOCK_SKEW_SECONDS: '3600' }],
    ['CLIENT_JWKS_COOLDOWN_MS', { CLIENT_JWT_SECRET: 's'.repeat(32), CLIENT_JWKS_COOLDOWN_MS: '1000' }],
    ['CLIENT_JWKS_MAX_AGE_MS', { CLIENT_JWKS_MAX_AGE_MS: '1000' }],
    ['RATE_LIMIT_BURST', { RATE_LIMIT_BURST: '10' }],
    ['RATE_LIMIT_BURST', { RATE_LIMIT_PER_SECOND: '10', RATE_LIMIT_BURST: '0' }],
    ['RATE_LIMIT_PER_SECOND', { RATE_LIMIT_PER_SECOND: '1.5' }],
    ['TLS_KEY_FILE', { TLS_CERT_FILE: 'tls.crt' }],
    ['TLS_CERT_FILE', { TLS_KEY_FILE: 'tls.key' }],
    ['GRAPHIQL', { GRAPHIQL: 'off' }],
    ['INTROSPECTION', { INTROSPECTION: 'no' }],
    ['METRICS_TOKEN', { METRICS_TOKEN: 'short' }],
  ];
  for (const [variable, env] of refused) {
    it(`refuses ${JSON.stringify(env)} naming ${variable}`, () => {
      const error = configError({ ...BASE, ...env });
      expect(error.code).toBe('GW_CONFIG_INVALID');
      expect(error.details).toEqual({ variable });
      expect(error.message.startsWith(`${variable} `)).toBe(true);
    });
  }
});

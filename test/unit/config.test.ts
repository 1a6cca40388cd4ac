import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, REPO_ROOT } from '../../src/config.ts';
import { GatewayError } from '../../src/errors.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BASE = { KAFKA_BROKERS: 'localhost:9092' };

function configError(env: Record<string, string | undefined>): GatewayError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(GatewayError);
    return error as GatewayError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig defaults', () => {
  it('fills every other setting from defaults when only KAFKA_BROKERS is set', () => {
    expect(REPO_ROOT).toBe(repoRoot);
    expect(loadConfig(BASE)).toEqual({
      kafkaBrokers: ['localhost:9092'],
      host: '127.0.0.1',
      port: 4000,
      dataDir: path.join(repoRoot, '.data', 'graphql-gateway'),
      advertisedUrl: 'http://127.0.0.1:4000',
      groupId: 'graphql-gateway',
      viewsDir: path.join(repoRoot, 'views'),
      topicPrefix: '',
      topicPartitions: 6,
      deadLetterTopic: 'gateway.dead-letter',
      deadLetterMaxBytes: 524_288,
      recordMaxBytes: 1_048_576,
      partitioner: 'murmur2',
      maxPageSize: 500,
      readyMaxLag: 1000,
      maxQueryDepth: 12,
      queryLimits: { maxTokens: 1500, maxAliases: 50, maxDirectives: 30, maxRootFields: 50, maxBreadth: 50, maxCost: 50_000 },
      queryTimeoutMs: 10_000,
      logLevel: 'info',
      peerSecret: undefined,
      peerTimeoutMs: 2000,
      consistencyWaitMs: 5000,
      rebalanceWaitMs: 3000,
      groupSessionTimeoutMs: 10_000,
      subscriptionsPerConnection: 100,
      subscriptionsPerInstance: 20_000,
      subscriptionBuffer: 1000,
      rowCacheRows: 20_000,
      storeCacheMb: 32,
      responseCacheMb: 8,
      responseCacheMinUs: 250,
      readWorkers: Math.min(4, os.availableParallelism() - 1),
      storeMemtableMb: 64,
      storeBackgroundNice: 10,
      tombstoneRetentionMs: 86_400_000,
      corsOrigins: [],
      shutdownTimeoutMs: 25_000,
      shutdownDelayMs: 0,
      // Security switches (test/unit/security.test.ts has the rest): off but these two.
      graphiql: true,
      introspection: true,
    });
  });

  it('leaves the advertised URL to the listening address when PORT is 0', () => {
    expect(loadConfig({ ...BASE, PORT: '0' }).advertisedUrl).toBeUndefined();
    expect(loadConfig({ ...BASE, PORT: '0', ADVERTISED_URL: 'http://gw-1:4000' }).advertisedUrl).toBe('http://gw-1:4000');
  });

  it('requires a PEER_SECRET of at least 16 characters without echoing it', () => {
    const error = configError({ ...BASE, PEER_SECRET: 'short' });
    expect(error.details).toEqual({ variable: 'PEER_SECRET' });
    expect(error.message).not.toContain('short');
    expect(loadConfig({ ...BASE, PEER_SECRET: 'x'.repeat(16), PEER_TIMEOUT_MS: '500' })).toMatchObject({
      peerSecret: 'x'.repeat(16),
      peerTimeoutMs: 500,
    });
  });

  it('reads explicit values', () => {
    const config = loadConfig({
      KAFKA_BROKERS: 'a.example:9092, 10.0.0.2:19092,[::1]:9093',
      HOST: '0.0.0.0',
      PORT: '8080',
      GROUP_ID: 'gw-test_1.x',
      DATA_DIR: '/tmp/gw-data',
      ADVERTISED_URL: 'https://gw.example:8443/',
      TOPIC_PREFIX: 'dev.',
      TOPIC_PARTITIONS: '12',
      MAX_PAGE_SIZE: '100',
      READY_MAX_LAG: '0',
      MAX_QUERY_DEPTH: '5',
      LOG_LEVEL: 'debug',
    });
    expect(config.kafkaBrokers).toEqual(['a.example:9092', '10.0.0.2:19092', '[::1]:9093']);
    expect(config.port).toBe(8080);
    expect(config.groupId).toBe('gw-test_1.x');
    expect(config.dataDir).toBe('/tmp/gw-data');
    expect(config.advertisedUrl).toBe('https://gw.example:8443');
    expect(config.topicPrefix).toBe('dev.');
    expect(config.deadLetterTopic).toBe('dev.gateway.dead-letter');
    expect(config.topicPartitions).toBe(12);
    expect(config.maxPageSize).toBe(100);
    expect(config.readyMaxLag).toBe(0);
    expect(config.maxQueryDepth).toBe(5);
    expect(config.logLevel).toBe('debug');
  });

  it('takes librdkafka names for the partitioners', () => {
    expect(loadConfig({ ...BASE, KAFKA_PARTITIONER: 'consistent_random' }).partitioner).toBe('crc32');
    expect(loadConfig({ ...BASE, KAFKA_PARTITIONER: 'consistent' }).partitioner).toBe('crc32');
    expect(loadConfig({ ...BASE, KAFKA_PARTITIONER: 'murmur2_random' }).partitioner).toBe('murmur2');
  });

  it('reads CORS origins and whether client tokens need exp', () => {
    expect(loadConfig({ ...BASE, CORS_ORIGINS: 'https://app.example.com, http://localhost:5173,https://app.example.com' }).corsOrigins).toEqual([
      'https://app.example.com',
      'http://localhost:5173',
    ]);
    const secret = { ...BASE, CLIENT_JWT_SECRET: 'c'.repeat(32) };
    expect(loadConfig(secret).clientAuth?.requireExp).toBe(true);
    expect(loadConfig({ ...secret, CLIENT_JWT_REQUIRE_EXP: 'true' }).clientAuth?.requireExp).toBe(true);
    expect(loadConfig({ ...secret, CLIENT_JWT_REQUIRE_EXP: 'false' }).clientAuth?.requireExp).toBe(false);
  });

  it('derives the advertised URL from HOST and PORT, bracketing IPv6', () => {
    expect(loadConfig({ ...BASE, HOST: '::1', PORT: '4100' }).advertisedUrl).toBe('http://[::1]:4100');
    expect(loadConfig({ ...BASE, GROUP_ID: 'g2' }).dataDir).toBe(path.join(repoRoot, '.data', 'g2'));
  });
});

describe('loadConfig rejects invalid values with GW_CONFIG_INVALID naming the variable', () => {
  const cases: Array<[string, Record<string, string | undefined>]> = [
    ['KAFKA_BROKERS', {}],
    ['KAFKA_BROKERS', { KAFKA_BROKERS: undefined }],
    ['KAFKA_BROKERS', { KAFKA_BROKERS: '' }],
    ['KAFKA_BROKERS', { KAFKA_BROKERS: '   ' }],
    ['KAFKA_BROKERS', { KAFKA_BROKERS: 'host' }],
    ['KAFKA_BROKERS', { KAFKA_BROKERS: 'host:99999' }],
    ['KAFKA_BROKERS', { KAFKA_BROKERS: 'host:0' }],
    ['KAFKA_BROKERS', { KAFKA_BROKERS: 'good:9092,bad' }],
    ['KAFKA_BROKERS', { KAFKA_BROKERS: 'good:9092,' }],
    ['PORT', { ...BASE, PORT: 'abc' }],
    ['PORT', { ...BASE, PORT: '70000' }],
    ['PORT', { ...BASE, PORT: '-1' }],
    ['PORT', { ...BASE, PORT: '80.5' }],
    ['ADVERTISED_URL', { ...BASE, ADVERTISED_URL: 'ftp://x' }],
    ['ADVERTISED_URL', { ...BASE, ADVERTISED_URL: 'http://x/path' }],
    ['ADVERTISED_URL', { ...BASE, ADVERTISED_URL: 'http://x/?q=1' }],
    ['ADVERTISED_URL', { ...BASE, ADVERTISED_URL: 'not a url' }],
    ['TOPIC_PARTITIONS', { ...BASE, TOPIC_PARTITIONS: '0' }],
    ['TOPIC_PARTITIONS', { ...BASE, TOPIC_PARTITIONS: '10001' }],
    ['GROUP_ID', { ...BASE, GROUP_ID: 'my group' }],
    ['GROUP_ID', { ...BASE, GROUP_ID: 'a/b' }],
    ['TOPIC_PREFIX', { ...BASE, TOPIC_PREFIX: 'dev prefix' }],
    ['DEAD_LETTER_TOPIC', { ...BASE, DEAD_LETTER_TOPIC: 'dead letters' }],
    ['LOG_LEVEL', { ...BASE, LOG_LEVEL: 'loud' }],
    ['LOG_LEVEL', { ...BASE, LOG_LEVEL: 'INFO' }],
    ['MAX_PAGE_SIZE', { ...BASE, MAX_PAGE_SIZE: '0' }],
    ['MAX_QUERY_DEPTH', { ...BASE, MAX_QUERY_DEPTH: '1' }],
    ['READY_MAX_LAG', { ...BASE, READY_MAX_LAG: 'lots' }],
    ['HOST', { ...BASE, HOST: 'bad host' }],
    ['STORE_CACHE_MB', { ...BASE, STORE_CACHE_MB: '1' }],
    ['STORE_MEMTABLE_MB', { ...BASE, STORE_MEMTABLE_MB: '4' }],
    ['STORE_BACKGROUND_NICE', { ...BASE, STORE_BACKGROUND_NICE: '20' }],
    ['STORE_BACKGROUND_NICE', { ...BASE, STORE_BACKGROUND_NICE: '-5' }],
    ['CLIENT_JWT_SECRET', { ...BASE, CLIENT_JWT_SECRET: 'too-short' }],
    ['TOMBSTONE_RETENTION_MS', { ...BASE, TOMBSTONE_RETENTION_MS: '10' }],
    ['CLIENT_JWT_AUDIENCE', { ...BASE, CLIENT_JWT_AUDIENCE: 'grid-ui' }],
    ['KAFKA_PARTITIONER', { ...BASE, KAFKA_PARTITIONER: 'random' }],
    ['KAFKA_PARTITIONER', { ...BASE, KAFKA_PARTITIONER: 'toString' }],
    ['KAFKA_PARTITIONER', { ...BASE, KAFKA_PARTITIONER: 'MURMUR2' }],
    ['RECORD_MAX_BYTES', { ...BASE, RECORD_MAX_BYTES: '10' }],
    ['DEAD_LETTER_MAX_BYTES', { ...BASE, DEAD_LETTER_MAX_BYTES: '1e6' }],
    ['MAX_QUERY_TOKENS', { ...BASE, MAX_QUERY_TOKENS: '99999999999' }],
    ['MAX_QUERY_ALIASES', { ...BASE, MAX_QUERY_ALIASES: '-1' }],
    ['MAX_QUERY_DIRECTIVES', { ...BASE, MAX_QUERY_DIRECTIVES: 'many' }],
    ['MAX_QUERY_ROOT_FIELDS', { ...BASE, MAX_QUERY_ROOT_FIELDS: '0' }],
    ['MAX_QUERY_COST', { ...BASE, MAX_QUERY_COST: '10' }],
    ['MAX_QUERY_BREADTH', { ...BASE, MAX_QUERY_BREADTH: '0' }],
    ['QUERY_TIMEOUT_MS', { ...BASE, QUERY_TIMEOUT_MS: '1.5' }],
    ['READ_WORKERS', { ...BASE, READ_WORKERS: '-1' }],
    ['READ_WORKERS', { ...BASE, READ_WORKERS: '65' }],
    ['READ_WORKERS', { ...BASE, READ_WORKERS: 'two' }],
    ['READ_WORKERS', { ...BASE, READ_WORKERS: '1.5' }],
    ['CLIENT_JWT_REQUIRE_EXP', { ...BASE, CLIENT_JWT_REQUIRE_EXP: 'false' }],
    ['CLIENT_JWT_REQUIRE_EXP', { ...BASE, CLIENT_JWT_SECRET: 'c'.repeat(32), CLIENT_JWT_REQUIRE_EXP: 'no' }],
    ['CORS_ORIGINS', { ...BASE, CORS_ORIGINS: '*' }],
    ['CORS_ORIGINS', { ...BASE, CORS_ORIGINS: 'https://app.example.com/' }],
    ['CORS_ORIGINS', { ...BASE, CORS_ORIGINS: 'https://app.example.com/path' }],
    ['CORS_ORIGINS', { ...BASE, CORS_ORIGINS: 'app.example.com' }],
    ['CORS_ORIGINS', { ...BASE, CORS_ORIGINS: 'https://APP.example.com' }],
    ['CORS_ORIGINS', { ...BASE, CORS_ORIGINS: 'https://app.example.com:443' }],
    ['CORS_ORIGINS', { ...BASE, CORS_ORIGINS: 'ftp://files.example.com' }],
    ['CORS_ORIGINS', { ...BASE, CORS_ORIGINS: 'https://a.example.com,,https://b.example.com' }],
  ];

  for (const [variable, env] of cases) {
    it(`${variable} = ${JSON.stringify(env[variable])}`, () => {
      const error = configError(env);
      expect(error.code).toBe('GW_CONFIG_INVALID');
      expect(error.retriable).toBe(false);
      expect(error.details).toEqual({ variable });
      // The message naming the variable is the contract for operators.
      expect(error.message.startsWith(`${variable} `)).toBe(true);
    });
  }

  // A level named like an Object.prototype property is not a log level.
  it.each(['toString', 'constructor', '__proto__'])('LOG_LEVEL = %s (inherited property name)', (level) => {
    const error = configError({ ...BASE, LOG_LEVEL: level });
    expect(error.code).toBe('GW_CONFIG_INVALID');
    expect(error.details).toEqual({ variable: 'LOG_LEVEL' });
  });
});

describe('Kafka security settings (KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_TLS_*)', () => {
  const PASSWORD = 'pw-4f1c2e9a7b';
  let dir: string;
  const file = (name: string) => path.join(dir, name);
  const SASL = {
    ...BASE,
    KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
    KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
    KAFKA_SASL_USERNAME: 'gw',
    KAFKA_SASL_PASSWORD: PASSWORD,
  };

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'gw-config-tls-'));
    const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
    openssl(
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      file('ca.key'),
      '-out',
      file('ca.pem'),
      '-days',
      '2',
      '-subj',
      '/CN=ca',
    );
    openssl(
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      file('client.key'),
      '-out',
      file('client.pem'),
      '-days',
      '2',
      '-subj',
      '/CN=client',
    );
    openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file('other.key'));
    openssl('pkey', '-in', file('client.key'), '-aes256', '-passout', 'pass:secret', '-out', file('encrypted.key'));
    writeFileSync(file('password'), `${PASSWORD}\n`);
    writeFileSync(file('empty'), '\n');
    writeFileSync(file('not-pem.txt'), 'hello\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is PLAINTEXT (no security settings) by default or when named', () => {
    expect(loadConfig(BASE).kafkaSecurity).toBeUndefined();
    expect(loadConfig({ ...BASE, KAFKA_SECURITY_PROTOCOL: 'PLAINTEXT' }).kafkaSecurity).toBeUndefined();
  });

  it('reads SASL over TLS, with the password hidden from enumeration, JSON and inspect', () => {
    const config = loadConfig({
      ...SASL,
      KAFKA_SECURITY_PROTOCOL: 'sasl_ssl',
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_TLS_CA_FILE: file('ca.pem'),
    });
    const security = config.kafkaSecurity!;
    expect(security).toMatchObject({
      protocol: 'SASL_SSL',
      sasl: { mechanism: 'SCRAM-SHA-512', username: 'gw' },
      tls: { servername: undefined, insecure: false },
    });
    expect(security.tls!.ca).toContain('-----BEGIN CERTIFICATE-----');
    expect(security.sasl!.password).toBe(PASSWORD);
    expect(Object.keys(security.sasl!)).toEqual(['mechanism', 'username']);
    expect(JSON.stringify(config)).not.toContain(PASSWORD);
    expect(inspect(config, { depth: Number.POSITIVE_INFINITY })).not.toContain(PASSWORD);
    expect({ ...security.sasl }).not.toHaveProperty('password');
  });

  it('reads the password from KAFKA_SASL_PASSWORD_FILE without its final line break', () => {
    const { KAFKA_SASL_PASSWORD: _, ...withoutPassword } = SASL;
    const config = loadConfig({ ...withoutPassword, KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT', KAFKA_SASL_PASSWORD_FILE: file('password') });
    expect(config.kafkaSecurity).toMatchObject({ protocol: 'SASL_PLAINTEXT', tls: undefined });
    expect(config.kafkaSecurity!.sasl!.password).toBe(PASSWORD);
  });

  it('reads mutual TLS files, a server name and KAFKA_TLS_INSECURE, with the key hidden', () => {
    const config = loadConfig({
      ...BASE,
      KAFKA_SECURITY_PROTOCOL: 'SSL',
      KAFKA_TLS_CA_FILE: file('ca.pem'),
      KAFKA_TLS_CERT_FILE: file('client.pem'),
      KAFKA_TLS_KEY_FILE: file('client.key'),
      KAFKA_TLS_SERVERNAME: 'kafka.internal.example',
      KAFKA_TLS_INSECURE: 'true',
    });
    const tls = config.kafkaSecurity!.tls!;
    expect(config.kafkaSecurity!.sasl).toBeUndefined();
    expect(tls).toMatchObject({ servername: 'kafka.internal.example', insecure: true });
    expect(tls.cert).toContain('-----BEGIN CERTIFICATE-----');
    expect(tls.key).toContain('PRIVATE KEY-----');
    expect(Object.keys(tls)).not.toContain('key');
    const keyBody = tls.key!.split('\n')[1]!;
    expect(JSON.stringify(config)).not.toContain(keyBody);
    expect(inspect(config, { depth: Number.POSITIVE_INFINITY })).not.toContain(keyBody);
    // Without files the system's bundled CAs verify the brokers.
    expect(loadConfig({ ...BASE, KAFKA_SECURITY_PROTOCOL: 'SSL' }).kafkaSecurity!.tls).toMatchObject({
      ca: undefined,
      cert: undefined,
      insecure: false,
    });
  });

  const cases: Array<[string, string, () => Record<string, string | undefined>]> = [
    ['an unknown protocol', 'KAFKA_SECURITY_PROTOCOL', () => ({ ...BASE, KAFKA_SECURITY_PROTOCOL: 'TLS' })],
    ['SASL without a mechanism', 'KAFKA_SASL_MECHANISM', () => ({ ...SASL, KAFKA_SASL_MECHANISM: undefined })],
    ['an unsupported mechanism', 'KAFKA_SASL_MECHANISM', () => ({ ...SASL, KAFKA_SASL_MECHANISM: 'GSSAPI' })],
    ['SASL without a user name', 'KAFKA_SASL_USERNAME', () => ({ ...SASL, KAFKA_SASL_USERNAME: '' })],
    ['a user name with a control character', 'KAFKA_SASL_USERNAME', () => ({ ...SASL, KAFKA_SASL_USERNAME: 'g\nw' })],
    ['SASL without a password', 'KAFKA_SASL_PASSWORD', () => ({ ...SASL, KAFKA_SASL_PASSWORD: undefined })],
    ['both password sources', 'KAFKA_SASL_PASSWORD_FILE', () => ({ ...SASL, KAFKA_SASL_PASSWORD_FILE: file('password') })],
    [
      'a missing password file',
      'KAFKA_SASL_PASSWORD_FILE',
      () => ({ ...SASL, KAFKA_SASL_PASSWORD: undefined, KAFKA_SASL_PASSWORD_FILE: file('nope') }),
    ],
    [
      'an empty password file',
      'KAFKA_SASL_PASSWORD_FILE',
      () => ({ ...SASL, KAFKA_SASL_PASSWORD: undefined, KAFKA_SASL_PASSWORD_FILE: file('empty') }),
    ],
    ['a SASL setting without a SASL protocol', 'KAFKA_SASL_USERNAME', () => ({ ...BASE, KAFKA_SASL_USERNAME: 'gw' })],
    ['a password without a SASL protocol', 'KAFKA_SASL_PASSWORD', () => ({ ...BASE, KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SASL_PASSWORD: PASSWORD })],
    [
      'a TLS setting without a TLS protocol',
      'KAFKA_TLS_CA_FILE',
      () => ({ ...SASL, KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT', KAFKA_TLS_CA_FILE: file('ca.pem') }),
    ],
    ['KAFKA_TLS_INSECURE without TLS', 'KAFKA_TLS_INSECURE', () => ({ ...BASE, KAFKA_TLS_INSECURE: 'true' })],
    ['a missing CA file', 'KAFKA_TLS_CA_FILE', () => ({ ...SASL, KAFKA_TLS_CA_FILE: file('nope.pem') })],
    ['a CA file without a certificate', 'KAFKA_TLS_CA_FILE', () => ({ ...SASL, KAFKA_TLS_CA_FILE: file('not-pem.txt') })],
    ['a certificate without its key', 'KAFKA_TLS_KEY_FILE', () => ({ ...SASL, KAFKA_TLS_CERT_FILE: file('client.pem') })],
    ['a key without its certificate', 'KAFKA_TLS_CERT_FILE', () => ({ ...SASL, KAFKA_TLS_KEY_FILE: file('client.key') })],
    [
      'a key that is no key',
      'KAFKA_TLS_KEY_FILE',
      () => ({ ...SASL, KAFKA_TLS_CERT_FILE: file('client.pem'), KAFKA_TLS_KEY_FILE: file('client.pem') }),
    ],
    [
      'an encrypted key',
      'KAFKA_TLS_KEY_FILE',
      () => ({ ...SASL, KAFKA_TLS_CERT_FILE: file('client.pem'), KAFKA_TLS_KEY_FILE: file('encrypted.key') }),
    ],
    [
      'a key of another certificate',
      'KAFKA_TLS_KEY_FILE',
      () => ({ ...SASL, KAFKA_TLS_CERT_FILE: file('client.pem'), KAFKA_TLS_KEY_FILE: file('other.key') }),
    ],
    ['a server name that is no host name', 'KAFKA_TLS_SERVERNAME', () => ({ ...SASL, KAFKA_TLS_SERVERNAME: 'kafka broker' })],
    ['KAFKA_TLS_INSECURE not a boolean', 'KAFKA_TLS_INSECURE', () => ({ ...SASL, KAFKA_TLS_INSECURE: 'yes' })],
  ];

  for (const [what, variable, env] of cases) {
    it(`refuses ${what}, naming ${variable} and echoing no secret`, () => {
      const error = configError(env());
      expect(error.code).toBe('GW_CONFIG_INVALID');
      expect(error.details).toEqual({ variable });
      expect(error.message.startsWith(`${variable} `)).toBe(true);
      expect(error.message).not.toContain(PASSWORD);
      expect(error.message).not.toContain('PRIVATE KEY');
    });
  }
});

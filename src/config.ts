/**
 * Instance configuration from environment variables. Every variable is validated at start; a bad
 * one stops the instance with `GW_CONFIG_INVALID` and a message naming the variable, what it must
 * be and what it was. The README's configuration table lists the same variables.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GatewayError } from './errors.ts';
import { isLogLevel, type LogLevel } from './log.ts';

export interface GatewayConfig {
  readonly kafkaBrokers: readonly string[];
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  /** undefined when it is derived from the listening address at start (PORT=0, no ADVERTISED_URL). */
  readonly advertisedUrl: string | undefined;
  readonly groupId: string;
  readonly viewsDir: string;
  readonly topicPrefix: string;
  readonly topicPartitions: number;
  readonly deadLetterTopic: string;
  /** Largest dead-letter request and envelope, in bytes (DEAD_LETTER_MAX_BYTES). */
  readonly deadLetterMaxBytes: number;
  /** Records whose key plus value is larger are dead-lettered unread (RECORD_MAX_BYTES). */
  readonly recordMaxBytes: number;
  /** The partitioner the view topics' producers use (KAFKA_PARTITIONER). */
  readonly partitioner: PartitionerName;
  readonly maxPageSize: number;
  readonly readyMaxLag: number;
  readonly maxQueryDepth: number;
  /** The limits every GraphQL document is checked against (MAX_QUERY_*; see src/graphql/limits.ts). */
  readonly queryLimits: {
    readonly maxTokens: number;
    readonly maxAliases: number;
    readonly maxDirectives: number;
    readonly maxRootFields: number;
    readonly maxBreadth: number;
    readonly maxCost: number;
  };
  /** Milliseconds a query may run before it is cancelled (QUERY_TIMEOUT_MS; 0 = none). */
  readonly queryTimeoutMs: number;
  readonly logLevel: LogLevel;
  /** Shared secret that signs peer calls; undefined when unset (then only local reads work). */
  readonly peerSecret: string | undefined;
  readonly peerTimeoutMs: number;
  readonly consistencyWaitMs: number;
  readonly rebalanceWaitMs: number;
  /** Consumer group session timeout: how soon the group notices a dead instance. */
  readonly groupSessionTimeoutMs: number;
  readonly subscriptionsPerConnection: number;
  readonly subscriptionsPerInstance: number;
  readonly subscriptionBuffer: number;
  /** Decoded rows kept in memory per view for lookups (ROW_CACHE_ROWS; 0 = none). */
  readonly rowCacheRows: number;
  /**
   * Client authentication: HS256 JWT secret (CLIENT_JWT_SECRET, at least 32 characters), and the
   * `aud` / `iss` a token must carry (CLIENT_JWT_AUDIENCE, CLIENT_JWT_ISSUER). Unset: no client
   * authentication.
   */
  readonly clientAuth:
    | {
        readonly secret: string;
        readonly audience: string | undefined;
        readonly issuer: string | undefined;
        /** Whether a token must carry `exp` (CLIENT_JWT_REQUIRE_EXP, default true). */
        readonly requireExp: boolean;
      }
    | undefined;
  /**
   * Browser origins allowed to call /graphql cross-origin (CORS_ORIGINS): exact
   * `scheme://host[:port]` strings. Empty: no cross-origin access.
   */
  readonly corsOrigins: readonly string[];
  /** How long the change log keeps a deletion's tombstone marker (TOMBSTONE_RETENTION_MS). */
  readonly tombstoneRetentionMs: number;
  /** RocksDB block cache for data blocks, in MiB (STORE_CACHE_MB). */
  readonly storeCacheMb: number;
  /** RocksDB memtable budget, in MiB (STORE_MEMTABLE_MB): a quarter per memtable. */
  readonly storeMemtableMb: number;
  /** How long a stop lets requests in flight and WebSocket operations finish (SHUTDOWN_TIMEOUT_MS). */
  readonly shutdownTimeoutMs: number;
  /** How long a stop keeps serving, with /readyz failing, before it closes the listener (SHUTDOWN_DELAY_MS). */
  readonly shutdownDelayMs: number;
  /** Tracing from the standard OTEL_* variables; undefined when off (see `tracing` below). */
  readonly tracing: TracingConfig | undefined;
}

/** What src/tracing.ts's `startTracing` is started with. */
export interface TracingConfig {
  readonly exporter: 'otlp' | 'console';
  readonly serviceName: string;
  readonly resourceAttributes: Readonly<Record<string, string>>;
  readonly sampler: TracingSampler;
  readonly samplerRatio: number;
}

export type TracingSampler = 'always_on' | 'always_off' | 'traceidratio' | 'parentbased_always_on' | 'parentbased_always_off' | 'parentbased_traceidratio';

type Env = Readonly<Record<string, string | undefined>>;

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function fail(name: string, expected: string, got: string | undefined): never {
  const shown = got === undefined ? 'it is not set' : `got ${JSON.stringify(got)}`;
  throw new GatewayError('GW_CONFIG_INVALID', `${name} must be ${expected}; ${shown}`, { details: { variable: name } });
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || value < min || value > max) fail(name, `an integer from ${min} to ${max}`, raw);
  return value;
}

function brokers(env: Env): string[] {
  const raw = env.KAFKA_BROKERS;
  if (raw === undefined || raw.trim() === '') fail('KAFKA_BROKERS', 'a comma-separated list of host:port', raw);
  const list = raw.split(',').map((entry) => entry.trim());
  for (const entry of list) {
    const match = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(entry);
    if (!match || Number(match[2]) < 1 || Number(match[2]) > 65535) {
      fail('KAFKA_BROKERS', 'a comma-separated list of host:port', raw);
    }
  }
  return list;
}

function name(env: Env, variable: string, fallback: string, allowEmpty = false): string {
  const raw = env[variable];
  if (raw === undefined || (raw === '' && !allowEmpty)) return fallback;
  if (raw === '' && allowEmpty) return raw;
  // Kafka's legal topic/group characters.
  if (!/^[A-Za-z0-9._-]{1,200}$/.test(raw)) fail(variable, 'letters, digits, ".", "_" or "-" (at most 200)', raw);
  return raw;
}

/** Partitioners producers use (src/cluster/partitioner.ts implements each). */
export type PartitionerName = 'murmur2' | 'crc32';

/** Names KAFKA_PARTITIONER takes: these and librdkafka's names for the same partitioners. */
const PARTITIONER_ALIASES: Readonly<Record<string, PartitionerName>> = {
  murmur2: 'murmur2',
  murmur2_random: 'murmur2',
  crc32: 'crc32',
  consistent: 'crc32',
  consistent_random: 'crc32',
};

function partitioner(env: Env): PartitionerName {
  const raw = env.KAFKA_PARTITIONER;
  if (raw === undefined || raw === '') return 'murmur2';
  const found = Object.hasOwn(PARTITIONER_ALIASES, raw) ? PARTITIONER_ALIASES[raw] : undefined;
  if (!found) fail('KAFKA_PARTITIONER', `one of ${Object.keys(PARTITIONER_ALIASES).join(', ')}`, raw);
  return found;
}

/** CORS_ORIGINS: comma-separated exact origins, each as a browser sends it in `Origin`. */
function origins(env: Env): string[] {
  const raw = env.CORS_ORIGINS;
  if (raw === undefined || raw.trim() === '') return [];
  const expected = 'a comma-separated list of exact origins such as https://app.example.com (scheme, host and port only: no path, no trailing slash, no "*")';
  const list = raw.split(',').map((entry) => entry.trim());
  for (const entry of list) {
    let url: URL | undefined;
    try {
      url = new URL(entry);
    } catch {
      url = undefined;
    }
    if (!url || !['http:', 'https:'].includes(url.protocol) || url.origin !== entry) fail('CORS_ORIGINS', expected, raw);
  }
  return [...new Set(list)];
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw !== 'true' && raw !== 'false') fail(name, 'true or false', raw);
  return raw === 'true';
}

function decodeOrUndefined(key: string, value: string): [string, string] | undefined {
  try {
    return [decodeURIComponent(key), decodeURIComponent(value)];
  } catch {
    return undefined;
  }
}

const SAMPLERS: readonly TracingSampler[] = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'];

/**
 * Tracing, from the OpenTelemetry SDK's standard variables. On when OTEL_TRACES_EXPORTER is
 * `otlp` or `console`, or, with it unset, when an OTLP endpoint is set; off with
 * OTEL_TRACES_EXPORTER=none or OTEL_SDK_DISABLED=true. The exporter is OTLP over HTTP with JSON
 * bodies; it reads the other OTEL_EXPORTER_OTLP_* variables (headers, timeout, compression,
 * certificates) itself. Every variable is read whether tracing is on or not.
 */
function tracing(env: Env): TracingConfig | undefined {
  const disabled = boolean(env, 'OTEL_SDK_DISABLED', false);
  const exporter = env.OTEL_TRACES_EXPORTER?.trim() || undefined;
  const endpoints = { OTEL_EXPORTER_OTLP_ENDPOINT: env.OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT };
  const protocols = { OTEL_EXPORTER_OTLP_PROTOCOL: env.OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL };
  const serviceName = env.OTEL_SERVICE_NAME || 'kafka-graphql-gateway';
  const attributes = env.OTEL_RESOURCE_ATTRIBUTES ?? '';
  const sampler = env.OTEL_TRACES_SAMPLER || 'parentbased_always_on';
  const samplerArg = env.OTEL_TRACES_SAMPLER_ARG;
  if (exporter !== undefined && !['otlp', 'console', 'none'].includes(exporter)) fail('OTEL_TRACES_EXPORTER', 'otlp, console or none', exporter);
  for (const [variable, value] of Object.entries(endpoints)) {
    if (!value) continue;
    let url: URL | undefined;
    try {
      url = new URL(value);
    } catch {
      url = undefined;
    }
    if (!url || !['http:', 'https:'].includes(url.protocol)) fail(variable, 'an http(s) URL, e.g. http://collector:4318', value);
  }
  for (const [variable, value] of Object.entries(protocols)) {
    if (value && value !== 'http/json') fail(variable, 'http/json (the gateway exports OTLP over HTTP with JSON bodies)', value);
  }
  if (!(SAMPLERS as readonly string[]).includes(sampler)) fail('OTEL_TRACES_SAMPLER', `one of ${SAMPLERS.join(', ')}`, sampler);
  const ratio = samplerArg === undefined || samplerArg === '' ? 1 : Number(samplerArg);
  if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) fail('OTEL_TRACES_SAMPLER_ARG', 'a number from 0 to 1', samplerArg);
  const resourceAttributes: Record<string, string> = {};
  for (const pair of attributes.split(',').filter((entry) => entry.trim() !== '')) {
    const at = pair.indexOf('=');
    const decoded = at > 0 ? decodeOrUndefined(pair.slice(0, at).trim(), pair.slice(at + 1).trim()) : undefined;
    if (!decoded) fail('OTEL_RESOURCE_ATTRIBUTES', 'comma-separated key=value pairs (values percent-encoded)', attributes);
    resourceAttributes[decoded[0]] = decoded[1];
  }
  const on = exporter === 'otlp' || exporter === 'console' || (exporter === undefined && Object.values(endpoints).some(Boolean));
  if (disabled || !on) return undefined;
  return { exporter: exporter === 'console' ? 'console' : 'otlp', serviceName, resourceAttributes, sampler: sampler as TracingSampler, samplerRatio: ratio };
}

/** Reads and validates the configuration; throws GatewayError(GW_CONFIG_INVALID) on the first problem. */
export function loadConfig(env: Env = process.env): GatewayConfig {
  const kafkaBrokers = brokers(env);
  const host = env.HOST || '127.0.0.1';
  if (!/^[A-Za-z0-9.:[\]-]+$/.test(host)) fail('HOST', 'an interface address or host name', host);
  const port = integer(env, 'PORT', 4000, 0, 65535);
  const groupId = name(env, 'GROUP_ID', 'graphql-gateway');
  const dataDir = path.resolve(env.DATA_DIR || path.join(REPO_ROOT, '.data', groupId));
  const bracketed = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const advertisedUrl = env.ADVERTISED_URL || `http://${bracketed}:${port}`;
  let parsedUrl: URL | undefined;
  try {
    parsedUrl = new URL(advertisedUrl);
  } catch {
    parsedUrl = undefined;
  }
  if (!parsedUrl || !['http:', 'https:'].includes(parsedUrl.protocol) || parsedUrl.pathname !== '/' || parsedUrl.search) {
    fail('ADVERTISED_URL', 'an http(s) URL of this instance without path, e.g. http://10.0.0.5:4000', advertisedUrl);
  }
  const logLevel = env.LOG_LEVEL || 'info';
  if (!isLogLevel(logLevel)) fail('LOG_LEVEL', 'one of debug, info, warn, error, silent', logLevel);
  const topicPrefix = name(env, 'TOPIC_PREFIX', '', true);
  const peerSecret = env.PEER_SECRET || undefined;
  if (peerSecret !== undefined && peerSecret.length < 16) fail('PEER_SECRET', 'at least 16 characters', '(hidden)');
  const clientSecret = env.CLIENT_JWT_SECRET || undefined;
  if (clientSecret !== undefined && clientSecret.length < 32) fail('CLIENT_JWT_SECRET', 'at least 32 characters', '(hidden)');
  if (clientSecret === undefined && (env.CLIENT_JWT_AUDIENCE || env.CLIENT_JWT_ISSUER || env.CLIENT_JWT_REQUIRE_EXP)) {
    const variable = env.CLIENT_JWT_AUDIENCE ? 'CLIENT_JWT_AUDIENCE' : env.CLIENT_JWT_ISSUER ? 'CLIENT_JWT_ISSUER' : 'CLIENT_JWT_REQUIRE_EXP';
    fail(variable, 'set only together with CLIENT_JWT_SECRET', '(set)');
  }
  const requireExp = boolean(env, 'CLIENT_JWT_REQUIRE_EXP', true);
  return {
    kafkaBrokers,
    host,
    port,
    dataDir,
    advertisedUrl: !env.ADVERTISED_URL && port === 0 ? undefined : parsedUrl.origin,
    groupId,
    viewsDir: path.resolve(env.VIEWS_DIR || path.join(REPO_ROOT, 'views')),
    topicPrefix,
    topicPartitions: integer(env, 'TOPIC_PARTITIONS', 6, 1, 10_000),
    deadLetterTopic: name(env, 'DEAD_LETTER_TOPIC', `${topicPrefix}gateway.dead-letter`),
    deadLetterMaxBytes: integer(env, 'DEAD_LETTER_MAX_BYTES', 512 * 1024, 4096, 100 << 20),
    recordMaxBytes: integer(env, 'RECORD_MAX_BYTES', 1 << 20, 1024, 100 << 20),
    partitioner: partitioner(env),
    maxPageSize: integer(env, 'MAX_PAGE_SIZE', 500, 1, 10_000),
    readyMaxLag: integer(env, 'READY_MAX_LAG', 1000, 0, Number.MAX_SAFE_INTEGER),
    maxQueryDepth: integer(env, 'MAX_QUERY_DEPTH', 12, 2, 100),
    queryLimits: {
      maxTokens: integer(env, 'MAX_QUERY_TOKENS', 1500, 100, 100_000),
      maxAliases: integer(env, 'MAX_QUERY_ALIASES', 50, 0, 10_000),
      maxDirectives: integer(env, 'MAX_QUERY_DIRECTIVES', 30, 0, 10_000),
      maxRootFields: integer(env, 'MAX_QUERY_ROOT_FIELDS', 50, 1, 10_000),
      maxBreadth: integer(env, 'MAX_QUERY_BREADTH', 50, 1, 10_000),
      maxCost: integer(env, 'MAX_QUERY_COST', 50_000, 100, 100_000_000),
    },
    queryTimeoutMs: integer(env, 'QUERY_TIMEOUT_MS', 10_000, 0, 600_000),
    logLevel,
    peerSecret,
    peerTimeoutMs: integer(env, 'PEER_TIMEOUT_MS', 2000, 10, 120_000),
    consistencyWaitMs: integer(env, 'CONSISTENCY_WAIT_MS', 5000, 0, 120_000),
    rebalanceWaitMs: integer(env, 'REBALANCE_WAIT_MS', 3000, 0, 120_000),
    groupSessionTimeoutMs: integer(env, 'GROUP_SESSION_TIMEOUT_MS', 10_000, 1000, 300_000),
    subscriptionsPerConnection: integer(env, 'SUBSCRIPTIONS_PER_CONNECTION', 100, 1, 100_000),
    subscriptionsPerInstance: integer(env, 'SUBSCRIPTIONS_PER_INSTANCE', 20_000, 1, 10_000_000),
    subscriptionBuffer: integer(env, 'SUBSCRIPTION_BUFFER', 1000, 1, 1_000_000),
    rowCacheRows: integer(env, 'ROW_CACHE_ROWS', 20_000, 0, 10_000_000),
    storeCacheMb: integer(env, 'STORE_CACHE_MB', 32, 4, 1_000_000),
    storeMemtableMb: integer(env, 'STORE_MEMTABLE_MB', 64, 8, 1_000_000),
    tombstoneRetentionMs: integer(env, 'TOMBSTONE_RETENTION_MS', 86_400_000, 1000, 31_536_000_000),
    clientAuth: clientSecret
      ? { secret: clientSecret, audience: env.CLIENT_JWT_AUDIENCE || undefined, issuer: env.CLIENT_JWT_ISSUER || undefined, requireExp }
      : undefined,
    corsOrigins: origins(env),
    shutdownTimeoutMs: integer(env, 'SHUTDOWN_TIMEOUT_MS', 25_000, 0, 600_000),
    shutdownDelayMs: integer(env, 'SHUTDOWN_DELAY_MS', 0, 0, 600_000),
    tracing: tracing(env),
  };
}

/**
 * Instance configuration from environment variables. Every variable is validated at start; a bad
 * one stops the instance with `GW_CONFIG_INVALID` and a message naming the variable, what it must
 * be and what it was. The README's configuration table lists the same variables.
 *
 * One unit, longer than most files: every variable is read and checked in this one place, so the
 * README table, the deployment files and the code are checked against one reader
 * (test/unit/readme-config.test.ts, test/unit/deploy-files.test.ts).
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GatewayError } from './errors.ts';
import { isLogLevel, type LogLevel } from './log.ts';

export interface GatewayConfig extends SecurityConfig {
  readonly kafkaBrokers: readonly string[];
  /** How the Kafka clients authenticate and encrypt (KAFKA_SECURITY_PROTOCOL ...); undefined: PLAINTEXT. */
  readonly kafkaSecurity: KafkaSecurityConfig | undefined;
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
   * Browser origins allowed to call /graphql cross-origin (CORS_ORIGINS): exact
   * `scheme://host[:port]` strings. Empty: no cross-origin access.
   */
  readonly corsOrigins: readonly string[];
  /** How long the change log keeps a deletion's tombstone marker (TOMBSTONE_RETENTION_MS). */
  readonly tombstoneRetentionMs: number;
  /** RocksDB block cache for data blocks, in MiB (STORE_CACHE_MB). */
  readonly storeCacheMb: number;
  /** Fast-path answers kept while the partitions they read are unchanged, in MiB (RESPONSE_CACHE_MB; 0 = none). */
  readonly responseCacheMb: number;
  /** Worker threads that run fast-path queries beside the main thread (READ_WORKERS; 0 = none). */
  readonly readWorkers: number;
  /** Answers that ran for less are not kept, in microseconds (RESPONSE_CACHE_MIN_US). */
  readonly responseCacheMinUs: number;
  /** RocksDB memtable budget, in MiB (STORE_MEMTABLE_MB): a quarter per memtable. */
  readonly storeMemtableMb: number;
  /** Nice value of RocksDB's flush and compaction threads (STORE_BACKGROUND_NICE, 0 to 19; 0 leaves them alone). */
  readonly storeBackgroundNice: number;
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

export type TracingSampler =
  | 'always_on'
  | 'always_off'
  | 'traceidratio'
  | 'parentbased_always_on'
  | 'parentbased_always_off'
  | 'parentbased_traceidratio';

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
  const expected =
    'a comma-separated list of exact origins such as https://app.example.com (scheme, host and port only: no path, no trailing slash, no "*")';
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

const SAMPLERS: readonly TracingSampler[] = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
];

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
  const endpoints = {
    OTEL_EXPORTER_OTLP_ENDPOINT: env.OTEL_EXPORTER_OTLP_ENDPOINT,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
  };
  const protocols = {
    OTEL_EXPORTER_OTLP_PROTOCOL: env.OTEL_EXPORTER_OTLP_PROTOCOL,
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
  };
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
  return {
    exporter: exporter === 'console' ? 'console' : 'otlp',
    serviceName,
    resourceAttributes,
    sampler: sampler as TracingSampler,
    samplerRatio: ratio,
  };
}

// ----- Kafka security: KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_TLS_* -----

/** The Kafka clients' `security.protocol` names. */
export type KafkaSecurityProtocol = 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL';
export type KafkaSaslMechanism = 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512';

export interface KafkaSaslConfig {
  readonly mechanism: KafkaSaslMechanism;
  readonly username: string;
  /** Not enumerable: logging, serializing or spreading the configuration leaves it out. */
  readonly password: string;
}

export interface KafkaTlsConfig {
  /** PEM CA certificates the brokers' certificates must chain to; undefined: Node's bundled CAs. */
  readonly ca: string | undefined;
  /** PEM client certificate chain for mutual TLS. */
  readonly cert: string | undefined;
  /** PEM private key of `cert`; not enumerable, like the SASL password. */
  readonly key: string | undefined;
  /** Host name the brokers' certificates are checked against (and sent as SNI) instead of each broker's host. */
  readonly servername: string | undefined;
  /** KAFKA_TLS_INSECURE=true: the brokers' certificates are not verified at all. */
  readonly insecure: boolean;
}

export interface KafkaSecurityConfig {
  readonly protocol: Exclude<KafkaSecurityProtocol, 'PLAINTEXT'>;
  /** Set for SASL_PLAINTEXT and SASL_SSL. */
  readonly sasl: KafkaSaslConfig | undefined;
  /** Set for SSL and SASL_SSL. */
  readonly tls: KafkaTlsConfig | undefined;
}

const SECURITY_PROTOCOLS: readonly KafkaSecurityProtocol[] = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'];
const SASL_MECHANISMS: readonly KafkaSaslMechanism[] = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'];

/** A GW_CONFIG_INVALID about a file a variable names: the path and why, never the contents. */
function failFile(variable: string, expected: string, file: string, problem: string): never {
  throw new GatewayError('GW_CONFIG_INVALID', `${variable} must be ${expected}; ${problem}: ${JSON.stringify(file)}`, { details: { variable } });
}

/** The text of the file `variable` names, or undefined when it is unset. */
function readSettingFile(env: Env, variable: string, expected: string): { file: string; text: string } | undefined {
  const file = env[variable];
  if (file === undefined || file === '') return undefined;
  try {
    return { file, text: readFileSync(file, 'utf8') };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    failFile(variable, expected, file, `cannot read the file (${code})`);
  }
}

/** PEM certificates (one or more) from the file `variable` names. */
function certificates(env: Env, variable: string, expected: string): { text: string; first: X509Certificate } | undefined {
  const read = readSettingFile(env, variable, expected);
  if (!read) return undefined;
  const blocks = read.text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) failFile(variable, expected, read.file, 'no PEM certificate in the file');
  const parsed = blocks.map((block) => {
    try {
      return new X509Certificate(block);
    } catch {
      return failFile(variable, expected, read.file, 'a certificate in the file does not parse');
    }
  });
  return { text: read.text, first: parsed[0]! };
}

/** Defines a property that property access sees and enumeration (JSON, inspect, spread, logs) does not. */
function hidden<T extends object>(target: T, key: string, value: unknown): T {
  return Object.defineProperty(target, key, { value, enumerable: false, writable: false, configurable: false });
}

/** A value validated case-insensitively against `allowed`. */
function oneOf<T extends string>(env: Env, variable: string, allowed: readonly T[]): T | undefined {
  const raw = env[variable];
  if (raw === undefined || raw === '') return undefined;
  const found = allowed.find((candidate) => candidate === raw.trim().toUpperCase());
  if (!found) fail(variable, `one of ${allowed.join(', ')}`, raw);
  return found;
}

function kafkaSecurity(env: Env): KafkaSecurityConfig | undefined {
  // Every variable is read whatever the protocol, so a setting for another protocol is refused
  // instead of silently ignored (KAFKA_SASL_USERNAME without a SASL protocol, for one).
  const protocol = oneOf(env, 'KAFKA_SECURITY_PROTOCOL', SECURITY_PROTOCOLS) ?? 'PLAINTEXT';
  const settings = {
    KAFKA_SASL_MECHANISM: env.KAFKA_SASL_MECHANISM,
    KAFKA_SASL_USERNAME: env.KAFKA_SASL_USERNAME,
    KAFKA_SASL_PASSWORD: env.KAFKA_SASL_PASSWORD,
    KAFKA_SASL_PASSWORD_FILE: env.KAFKA_SASL_PASSWORD_FILE,
    KAFKA_TLS_CA_FILE: env.KAFKA_TLS_CA_FILE,
    KAFKA_TLS_CERT_FILE: env.KAFKA_TLS_CERT_FILE,
    KAFKA_TLS_KEY_FILE: env.KAFKA_TLS_KEY_FILE,
    KAFKA_TLS_SERVERNAME: env.KAFKA_TLS_SERVERNAME,
    KAFKA_TLS_INSECURE: env.KAFKA_TLS_INSECURE,
  };
  const usesSasl = protocol === 'SASL_PLAINTEXT' || protocol === 'SASL_SSL';
  const usesTls = protocol === 'SSL' || protocol === 'SASL_SSL';
  for (const [variable, value] of Object.entries(settings)) {
    if (value === undefined || value === '') continue;
    if (variable.startsWith('KAFKA_SASL_') && !usesSasl) {
      fail(variable, `set only with KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT or SASL_SSL (it is ${protocol})`, '(set)');
    }
    if (variable.startsWith('KAFKA_TLS_') && !usesTls)
      fail(variable, `set only with KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL (it is ${protocol})`, '(set)');
  }
  if (protocol === 'PLAINTEXT') return undefined;

  let sasl: KafkaSaslConfig | undefined;
  if (usesSasl) {
    const mechanism = oneOf(env, 'KAFKA_SASL_MECHANISM', SASL_MECHANISMS);
    if (!mechanism) fail('KAFKA_SASL_MECHANISM', `one of ${SASL_MECHANISMS.join(', ')} with KAFKA_SECURITY_PROTOCOL=${protocol}`, undefined);
    const username = env.KAFKA_SASL_USERNAME;
    if (!username || [...username].some((char) => char.charCodeAt(0) < 0x20 || char === '\u007f') || username.length > 1024) {
      fail('KAFKA_SASL_USERNAME', `a user name (no control characters) with KAFKA_SECURITY_PROTOCOL=${protocol}`, username);
    }
    if (settings.KAFKA_SASL_PASSWORD && settings.KAFKA_SASL_PASSWORD_FILE) {
      fail('KAFKA_SASL_PASSWORD_FILE', 'set only without KAFKA_SASL_PASSWORD (one source for the password)', '(set)');
    }
    let password = settings.KAFKA_SASL_PASSWORD || undefined;
    const passwordFile = readSettingFile(env, 'KAFKA_SASL_PASSWORD_FILE', 'a readable file holding the SASL password');
    // A mounted secret may end with one line break; the password is the text before it.
    if (passwordFile) password = passwordFile.text.replace(/\r?\n$/, '');
    if (!password) {
      const variable = passwordFile ? 'KAFKA_SASL_PASSWORD_FILE' : 'KAFKA_SASL_PASSWORD';
      fail(
        variable,
        `a non-empty password (KAFKA_SASL_PASSWORD, or a file named by KAFKA_SASL_PASSWORD_FILE) with KAFKA_SECURITY_PROTOCOL=${protocol}`,
        passwordFile ? '(empty)' : undefined,
      );
    }
    sasl = hidden({ mechanism, username }, 'password', password) as KafkaSaslConfig;
  }

  let tls: KafkaTlsConfig | undefined;
  if (usesTls) {
    const ca = certificates(env, 'KAFKA_TLS_CA_FILE', 'a readable PEM file of CA certificates');
    const cert = certificates(env, 'KAFKA_TLS_CERT_FILE', 'a readable PEM file of the client certificate (chain)');
    const keyFile = readSettingFile(env, 'KAFKA_TLS_KEY_FILE', "a readable PEM file of the client certificate's private key (unencrypted)");
    if (cert && !keyFile) fail('KAFKA_TLS_KEY_FILE', 'set together with KAFKA_TLS_CERT_FILE (the private key of the client certificate)', undefined);
    if (keyFile && !cert) fail('KAFKA_TLS_CERT_FILE', 'set together with KAFKA_TLS_KEY_FILE (the client certificate of that key)', undefined);
    let key: KeyObject | undefined;
    if (keyFile) {
      try {
        key = createPrivateKey(keyFile.text);
      } catch {
        failFile('KAFKA_TLS_KEY_FILE', 'a PEM private key, unencrypted', keyFile.file, 'the file holds no such key');
      }
      if (!cert!.first.checkPrivateKey(key)) {
        failFile(
          'KAFKA_TLS_KEY_FILE',
          'the private key of the certificate in KAFKA_TLS_CERT_FILE',
          keyFile.file,
          'the key does not match that certificate',
        );
      }
    }
    const servername = env.KAFKA_TLS_SERVERNAME || undefined;
    const label = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
    if (servername !== undefined && (servername.length > 253 || !new RegExp(`^${label}(?:\\.${label})*$`).test(servername))) {
      fail('KAFKA_TLS_SERVERNAME', 'a DNS host name', servername);
    }
    tls = hidden(
      { ca: ca?.text, cert: cert?.text, servername, insecure: boolean(env, 'KAFKA_TLS_INSECURE', false) },
      'key',
      keyFile?.text,
    ) as KafkaTlsConfig;
  }
  return { protocol, sasl, tls };
}

// ---- Security: client authentication, trusted documents, rate limits, TLS, production switches ----

/** JWT algorithms a client token may use with a shared secret (CLIENT_JWT_SECRET). */
export const SECRET_ALGORITHMS: readonly string[] = ['HS256', 'HS384', 'HS512'];
/** JWT algorithms a client token may use with a public key or a JWKS. `none` is never accepted. */
export const KEY_ALGORITHMS: readonly string[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

export interface ClientAuthConfig {
  /** The key source, exactly one: CLIENT_JWT_SECRET (HS*), CLIENT_JWT_PUBLIC_KEY_FILE (PEM SPKI) or CLIENT_JWKS_URL. */
  readonly secret?: string | undefined;
  readonly publicKeyFile?: string | undefined;
  readonly jwksUrl?: string | undefined;
  /** CLIENT_JWT_ALGORITHMS; undefined: HS256 for a secret, RS256,ES256 for a JWKS, the key's own for a key file. */
  readonly algorithms: readonly string[] | undefined;
  /** The `aud` / `iss` a token must carry (CLIENT_JWT_AUDIENCE, CLIENT_JWT_ISSUER). */
  readonly audience: string | undefined;
  readonly issuer: string | undefined;
  /** Whether a token must carry `exp` (CLIENT_JWT_REQUIRE_EXP, default true). */
  readonly requireExp: boolean;
  /** Tolerance on `exp` and `nbf`, in seconds (CLIENT_JWT_CLOCK_SKEW_SECONDS). */
  readonly clockSkewSeconds: number;
  /** JWKS: shortest time between two fetches for an unknown `kid` (CLIENT_JWKS_COOLDOWN_MS). */
  readonly jwksCooldownMs: number;
  /** JWKS: age after which the key set is fetched again before use (CLIENT_JWKS_MAX_AGE_MS). */
  readonly jwksMaxAgeMs: number;
  /** JWKS: bound on one fetch (CLIENT_JWKS_TIMEOUT_MS). */
  readonly jwksTimeoutMs: number;
}

export interface SecurityConfig {
  /** Client authentication; undefined when no key source is set. */
  readonly clientAuth: ClientAuthConfig | undefined;
  /** TRUSTED_DOCUMENTS_FILE: only the documents of this manifest run. */
  readonly trustedDocumentsFile: string | undefined;
  /** Token bucket per client (RATE_LIMIT_PER_SECOND, RATE_LIMIT_BURST); undefined: no rate limit. */
  readonly rateLimit: { readonly perSecond: number; readonly burst: number } | undefined;
  /** HTTPS (and WSS) on the listener (TLS_CERT_FILE, TLS_KEY_FILE). */
  readonly tls: { readonly certFile: string; readonly keyFile: string } | undefined;
  /** CA bundle that https peers' certificates are checked against (PEER_TLS_CA_FILE). */
  readonly peerTlsCaFile: string | undefined;
  /** Whether /graphql serves the GraphiQL page (GRAPHIQL). */
  readonly graphiql: boolean;
  /** Whether __schema / __type may be queried and validation errors suggest names (INTROSPECTION). */
  readonly introspection: boolean;
  /** Bearer token /metrics requires (METRICS_TOKEN); undefined: /metrics is open. */
  readonly metricsToken: string | undefined;
}

function filePath(env: Env, variable: string): string | undefined {
  const raw = env[variable];
  if (raw === undefined || raw === '') return undefined;
  if (raw.trim() !== raw || raw.includes('\0')) fail(variable, 'a file path', raw);
  return path.resolve(raw);
}

function algorithmList(raw: string | undefined, allowed: readonly string[], keySource: string): string[] | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const list = [...new Set(raw.split(',').map((entry) => entry.trim()))];
  const expected = `a comma-separated list of JWT algorithms from ${allowed.join(', ')} (with ${keySource})`;
  if (list.some((entry) => !allowed.includes(entry))) fail('CLIENT_JWT_ALGORITHMS', expected, raw);
  return list;
}

function loadSecurity(env: Env): SecurityConfig {
  // Every variable is read whatever the others say, so the configuration table's test sees each one.
  const secret = env.CLIENT_JWT_SECRET || undefined;
  const publicKeyFile = filePath(env, 'CLIENT_JWT_PUBLIC_KEY_FILE');
  const jwksUrl = env.CLIENT_JWKS_URL || undefined;
  const rawAlgorithms = env.CLIENT_JWT_ALGORITHMS;
  const audience = env.CLIENT_JWT_AUDIENCE || undefined;
  const issuer = env.CLIENT_JWT_ISSUER || undefined;
  const requireExp = boolean(env, 'CLIENT_JWT_REQUIRE_EXP', true);
  const clockSkewSeconds = integer(env, 'CLIENT_JWT_CLOCK_SKEW_SECONDS', 30, 0, 600);
  const jwksCooldownMs = integer(env, 'CLIENT_JWKS_COOLDOWN_MS', 30_000, 0, 3_600_000);
  const jwksMaxAgeMs = integer(env, 'CLIENT_JWKS_MAX_AGE_MS', 600_000, 1000, 86_400_000);
  const jwksTimeoutMs = integer(env, 'CLIENT_JWKS_TIMEOUT_MS', 5000, 100, 60_000);
  const sources = [secret && 'CLIENT_JWT_SECRET', publicKeyFile && 'CLIENT_JWT_PUBLIC_KEY_FILE', jwksUrl && 'CLIENT_JWKS_URL'].filter(Boolean);
  if (sources.length > 1)
    fail(String(sources[1]), `set alone: one of CLIENT_JWT_SECRET, CLIENT_JWT_PUBLIC_KEY_FILE, CLIENT_JWKS_URL (${sources[0]} is set too)`, '(set)');
  if (secret !== undefined && secret.length < 32) fail('CLIENT_JWT_SECRET', 'at least 32 characters', '(hidden)');
  if (jwksUrl !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(jwksUrl);
    } catch {
      url = undefined;
    }
    if (!url || !['http:', 'https:'].includes(url.protocol)) fail('CLIENT_JWKS_URL', 'an http(s) URL of a JSON Web Key Set', jwksUrl);
  }
  const clientOnly = ['CLIENT_JWT_AUDIENCE', 'CLIENT_JWT_ISSUER', 'CLIENT_JWT_REQUIRE_EXP', 'CLIENT_JWT_ALGORITHMS', 'CLIENT_JWT_CLOCK_SKEW_SECONDS'];
  const jwksOnly = ['CLIENT_JWKS_COOLDOWN_MS', 'CLIENT_JWKS_MAX_AGE_MS', 'CLIENT_JWKS_TIMEOUT_MS'];
  if (sources.length === 0) {
    const stray = [...clientOnly, ...jwksOnly].find((variable) => env[variable]);
    if (stray) fail(stray, 'set only together with CLIENT_JWT_SECRET, CLIENT_JWT_PUBLIC_KEY_FILE or CLIENT_JWKS_URL', '(set)');
  } else if (jwksUrl === undefined) {
    const stray = jwksOnly.find((variable) => env[variable]);
    if (stray) fail(stray, 'set only together with CLIENT_JWKS_URL', '(set)');
  }
  const algorithms = secret
    ? algorithmList(rawAlgorithms, SECRET_ALGORITHMS, 'CLIENT_JWT_SECRET')
    : algorithmList(rawAlgorithms, KEY_ALGORITHMS, 'a public key or a JWKS');
  const clientAuth: ClientAuthConfig | undefined =
    sources.length === 0
      ? undefined
      : { secret, publicKeyFile, jwksUrl, algorithms, audience, issuer, requireExp, clockSkewSeconds, jwksCooldownMs, jwksMaxAgeMs, jwksTimeoutMs };

  const perSecond = integer(env, 'RATE_LIMIT_PER_SECOND', 0, 0, 1_000_000);
  const burst = integer(env, 'RATE_LIMIT_BURST', perSecond, 1, 10_000_000);
  if (perSecond === 0 && env.RATE_LIMIT_BURST) fail('RATE_LIMIT_BURST', 'set only together with RATE_LIMIT_PER_SECOND above 0', env.RATE_LIMIT_BURST);

  const certFile = filePath(env, 'TLS_CERT_FILE');
  const keyFile = filePath(env, 'TLS_KEY_FILE');
  if ((certFile === undefined) !== (keyFile === undefined)) {
    fail(
      certFile ? 'TLS_KEY_FILE' : 'TLS_CERT_FILE',
      'set together with TLS_CERT_FILE and TLS_KEY_FILE (a PEM certificate chain and its private key)',
      undefined,
    );
  }
  const metricsToken = env.METRICS_TOKEN || undefined;
  if (metricsToken !== undefined && (metricsToken.length < 16 || /\s/.test(metricsToken)))
    fail('METRICS_TOKEN', 'at least 16 characters without spaces', '(hidden)');
  return {
    clientAuth,
    trustedDocumentsFile: filePath(env, 'TRUSTED_DOCUMENTS_FILE'),
    rateLimit: perSecond > 0 ? { perSecond, burst } : undefined,
    tls: certFile && keyFile ? { certFile, keyFile } : undefined,
    peerTlsCaFile: filePath(env, 'PEER_TLS_CA_FILE'),
    graphiql: boolean(env, 'GRAPHIQL', true),
    introspection: boolean(env, 'INTROSPECTION', true),
    metricsToken,
  };
}

/** Reads and validates the configuration; throws GatewayError(GW_CONFIG_INVALID) on the first problem. */
export function loadConfig(env: Env = process.env): GatewayConfig {
  const kafkaBrokers = brokers(env);
  const host = env.HOST || '127.0.0.1';
  if (!/^[A-Za-z0-9.:[\]-]+$/.test(host)) fail('HOST', 'an interface address or host name', host);
  const port = integer(env, 'PORT', 4000, 0, 65535);
  const groupId = name(env, 'GROUP_ID', 'graphql-gateway');
  const dataDir = path.resolve(env.DATA_DIR || path.join(REPO_ROOT, '.data', groupId));
  const scheme = env.TLS_CERT_FILE ? 'https' : 'http';
  const bracketed = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const advertisedUrl = env.ADVERTISED_URL || `${scheme}://${bracketed}:${port}`;
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
  const security = loadSecurity(env);
  return {
    ...security,
    kafkaBrokers,
    kafkaSecurity: kafkaSecurity(env),
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
    responseCacheMb: integer(env, 'RESPONSE_CACHE_MB', 8, 0, 100_000),
    responseCacheMinUs: integer(env, 'RESPONSE_CACHE_MIN_US', 250, 0, 60_000_000),
    readWorkers: integer(env, 'READ_WORKERS', Math.min(4, availableParallelism() - 1), 0, 64),
    storeMemtableMb: integer(env, 'STORE_MEMTABLE_MB', 64, 8, 1_000_000),
    storeBackgroundNice: integer(env, 'STORE_BACKGROUND_NICE', 10, 0, 19),
    tombstoneRetentionMs: integer(env, 'TOMBSTONE_RETENTION_MS', 86_400_000, 1000, 31_536_000_000),
    corsOrigins: origins(env),
    shutdownTimeoutMs: integer(env, 'SHUTDOWN_TIMEOUT_MS', 25_000, 0, 600_000),
    shutdownDelayMs: integer(env, 'SHUTDOWN_DELAY_MS', 0, 0, 600_000),
    tracing: tracing(env),
  };
}

/**
 * Kafka security for the client: the KafkaJS `ssl` and `sasl` options from the configuration, a
 * TLS probe of each bootstrap broker before the first admin call (KafkaJS retries a failed
 * handshake like an unreachable broker, for about 16 s; the probe fails at once with a coded
 * error naming the setting to check), the mapping of KafkaJS's SASL and TLS failures to
 * GW_KAFKA_AUTH_FAILED / GW_KAFKA_TLS_FAILED, and the scrubbing of the password from KafkaJS's
 * log lines and errors.
 */
import net from 'node:net';
import tls from 'node:tls';
import kafkajs from 'kafkajs';
import type { ISocketFactory, SASLOptions } from 'kafkajs';
import type { KafkaSecurityConfig } from '../config.ts';
import { GatewayError } from '../errors.ts';
import type { Logger } from '../log.ts';

const { logLevel: KafkaLogLevel } = kafkajs;

/**
 * `value` without the secret `scrub` removes, through its JSON form; the same object when the
 * secret does not occur. KafkaJS never logs the credentials; this makes sure a password does not
 * reach the logs even if a broker message or a later KafkaJS version quotes it.
 */
export function scrubbed<T>(value: T, scrub: (text: string) => string): T {
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch {
    return value;
  }
  const clean = scrub(text);
  return clean === text ? value : (JSON.parse(clean) as T);
}

export function kafkaLogger(logger: Logger, scrub: ((text: string) => string) | undefined) {
  return () =>
    ({ level, log }: { level: number; log: { message: string } & Record<string, unknown> }) => {
      const { timestamp: _timestamp, logger: _name, ...rest } = log;
      const { message, ...fields } = scrub ? scrubbed(rest, scrub) : rest;
      // "Response …" errors are broker error codes that KafkaJS retries (not the leader yet,
      // coordinator loading); they only matter if they persist, which surfaces as a failure.
      if (level <= KafkaLogLevel.ERROR && !message.startsWith('Response ')) logger.error(`kafka: ${message}`, fields);
      else if (level <= KafkaLogLevel.ERROR) logger.debug(`kafka: ${message}`, fields);
      // The dead-letter producer limits retries on purpose (its caller waits and sends again with
      // the same producer, whose failed sends give back their sequence numbers).
      else if (level === KafkaLogLevel.WARN && message.startsWith('Limiting retries for the idempotent producer'))
        logger.debug(`kafka: ${message}`, fields);
      else if (level === KafkaLogLevel.WARN) logger.warn(`kafka: ${message}`, fields);
      else logger.debug(`kafka: ${message}`, fields);
    };
}

// ----- SASL and TLS (KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_TLS_*) -----

/** Node's certificate verification failures: the broker's certificate is not trusted. */
const UNTRUSTED_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'PATH_LENGTH_EXCEEDED',
  'CERT_CHAIN_TOO_LONG',
]);

/** KafkaJS's error types of a refused SASL authentication. */
const SASL_FAILURE_TYPES = new Set(['SASL_AUTHENTICATION_FAILED', 'UNSUPPORTED_SASL_MECHANISM', 'ILLEGAL_SASL_STATE']);

/** The probe's code for a connection the broker closed during the TLS handshake (a listener without TLS). */
const HANDSHAKE_CLOSED = 'TLS_HANDSHAKE_CLOSED';

function isTlsCode(code: unknown): code is string {
  return (
    typeof code === 'string' && (UNTRUSTED_CODES.has(code) || code === HANDSHAKE_CLOSED || code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_'))
  );
}

/** The fields of KafkaJS's and Node's errors the classification reads. */
interface ErrorLike {
  readonly name?: unknown;
  readonly type?: unknown;
  readonly code?: unknown;
  readonly message?: unknown;
  readonly broker?: unknown;
  readonly cause?: unknown;
}

/** The error and its causes, outermost first (at most 10 deep). */
function causes(error: unknown): ErrorLike[] {
  const chain: ErrorLike[] = [];
  for (let current = error; current && typeof current === 'object' && chain.length < 10; current = (current as ErrorLike).cause) {
    chain.push(current as ErrorLike);
  }
  return chain;
}

/**
 * The coded error a SASL or TLS failure of KafkaJS (or of the TLS probe) stands for, naming the
 * settings to check; undefined for any other error. Messages are scrubbed of the password.
 */
export function securityFailure(
  error: unknown,
  security: KafkaSecurityConfig | undefined,
  scrub: (text: string) => string,
): GatewayError | undefined {
  if (error instanceof GatewayError || !security) return undefined;
  const chain = causes(error);
  const reason = (entry: { message?: unknown } | undefined) => scrub(String(entry?.message ?? 'unknown error').replace(/^Connection error: /, ''));
  const sasl = chain.find((entry) => entry.name === 'KafkaJSSASLAuthenticationError' || SASL_FAILURE_TYPES.has(String(entry.type)));
  if (sasl && security.sasl) {
    const { mechanism, username } = security.sasl;
    return new GatewayError(
      'GW_KAFKA_AUTH_FAILED',
      `the broker refused SASL authentication for KAFKA_SASL_USERNAME=${username} with KAFKA_SASL_MECHANISM=${mechanism} (${reason(sasl)}); check KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD`,
      { cause: error, details: { settings: ['KAFKA_SASL_MECHANISM', 'KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD'] } },
    );
  }
  const failed = chain.find((entry) => isTlsCode(entry.code));
  if (!failed || !security.tls) return undefined;
  const code = failed.code as string;
  const broker = typeof failed.broker === 'string' ? ` ${failed.broker}` : '';
  const [problem, settings]: [string, string[]] =
    code === 'ERR_TLS_CERT_ALTNAME_INVALID'
      ? [`the certificate of broker${broker} does not name the host connected to`, ['KAFKA_TLS_SERVERNAME', 'KAFKA_BROKERS']]
      : UNTRUSTED_CODES.has(code)
        ? [`the certificate of broker${broker} is not trusted`, ['KAFKA_TLS_CA_FILE']]
        : /ALERT/.test(code)
          ? [`broker${broker} refused the TLS handshake`, ['KAFKA_TLS_CERT_FILE', 'KAFKA_TLS_KEY_FILE', 'KAFKA_TLS_CA_FILE']]
          : code === HANDSHAKE_CLOSED
            ? [
                `broker${broker} closed the connection during the TLS handshake: the listener at that port may not use TLS`,
                ['KAFKA_SECURITY_PROTOCOL', 'KAFKA_BROKERS'],
              ]
            : [`the TLS handshake with broker${broker} failed`, ['KAFKA_SECURITY_PROTOCOL', 'KAFKA_TLS_CA_FILE']];
  return new GatewayError('GW_KAFKA_TLS_FAILED', `${problem} (${code}: ${reason(failed)}); check ${settings.join(', ')}`, {
    cause: error,
    details: { settings, tlsError: code },
  });
}

/** KafkaJS's `ssl` option from the TLS settings. */
export function kafkaSsl(security: KafkaSecurityConfig | undefined): tls.ConnectionOptions | undefined {
  const settings = security?.tls;
  if (!settings) return undefined;
  return {
    rejectUnauthorized: !settings.insecure,
    ...(settings.ca === undefined ? {} : { ca: settings.ca }),
    ...(settings.cert === undefined ? {} : { cert: settings.cert }),
    ...(settings.key === undefined ? {} : { key: settings.key }),
    ...(settings.servername === undefined ? {} : { servername: settings.servername }),
  };
}

/** KafkaJS's `sasl` option from the SASL settings (the password is read from its hidden property). */
export function kafkaSasl(security: KafkaSecurityConfig | undefined): SASLOptions | undefined {
  const settings = security?.sasl;
  if (!settings) return undefined;
  const credentials = { username: settings.username, password: settings.password };
  switch (settings.mechanism) {
    case 'PLAIN':
      return { mechanism: 'plain', ...credentials };
    case 'SCRAM-SHA-256':
      return { mechanism: 'scram-sha-256', ...credentials };
    case 'SCRAM-SHA-512':
      return { mechanism: 'scram-sha-512', ...credentials };
  }
}

/** The options of a TLS connection to one broker, as KafkaJS's own socket factory builds them. */
function tlsConnectOptions(host: string, port: number, ssl: tls.ConnectionOptions): tls.ConnectionOptions {
  return { host, port, ...(net.isIP(host) ? {} : { servername: host }), ...ssl };
}

/** KafkaJS's socket factory, with the TLS options built by `tlsConnectOptions` (shared with the probe). */
export const socketFactory: ISocketFactory = ({ host, port, ssl, onConnect }) => {
  const socket = ssl ? tls.connect(tlsConnectOptions(host, port, ssl), onConnect) : net.connect({ host, port }, onConnect);
  socket.setKeepAlive(true, 60_000);
  return socket;
};

/** Kafka ApiVersions v0 request, correlation id 1: a listener answers it before SASL authentication. */
function apiVersionsRequest(clientId: string): Buffer {
  const id = Buffer.from(clientId.slice(0, 200), 'utf8');
  const body = Buffer.alloc(10 + id.length);
  body.writeInt16BE(18, 0);
  body.writeInt16BE(0, 2);
  body.writeInt32BE(1, 4);
  body.writeInt16BE(id.length, 8);
  id.copy(body, 10);
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length, 0);
  return Buffer.concat([size, body]);
}

const PROBE_TIMEOUT_MS = 10_000;

/**
 * One TLS connection to a broker: the handshake, then an ApiVersions round trip (with TLS 1.3
 * the broker rejects a client certificate only after the client's handshake is done). Resolves
 * with the TLS error (Node's error, with its `code`; HANDSHAKE_CLOSED when the broker accepted
 * the TCP connection and closed it before the handshake completed), 'answered', or
 * 'unreachable' (KafkaJS then reports that as usual).
 */
export function probeTls(broker: string, ssl: tls.ConnectionOptions, clientId: string): Promise<Error | 'answered' | 'unreachable'> {
  const colon = broker.lastIndexOf(':');
  const host = broker.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  const port = Number(broker.slice(colon + 1));
  return new Promise((resolve) => {
    const socket = tls.connect(tlsConnectOptions(host, port, ssl));
    let stage: 'connecting' | 'handshake' | 'secured' = 'connecting';
    const address = `${host}:${port}`;
    const closedDuringHandshake = (code: string) =>
      Object.assign(new Error(`the connection was closed during the TLS handshake (${code})`), { code: HANDSHAKE_CLOSED, broker: address });
    const done = (result: Error | 'answered' | 'unreachable') => {
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done('unreachable'), PROBE_TIMEOUT_MS);
    socket.once('connect', () => {
      stage = 'handshake';
    });
    socket.once('secureConnect', () => {
      stage = 'secured';
      socket.write(apiVersionsRequest(clientId));
    });
    socket.once('data', () => done('answered'));
    socket.once('close', () => done(stage === 'handshake' ? closedDuringHandshake('closed') : 'unreachable'));
    socket.once('error', (error: NodeJS.ErrnoException) => {
      if (isTlsCode(error.code)) done(Object.assign(error, { broker: address }));
      else done(stage === 'handshake' ? closedDuringHandshake(error.code ?? 'error') : 'unreachable');
    });
  });
}

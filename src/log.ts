/**
 * Structured logging through pino: one JSON object per line on stderr, so logs stay
 * machine-readable and stdout stays free for what a command prints on purpose (the demo's URL,
 * bench figures). A line reads
 *
 *   {"level":"info","time":"2026-11-22T09:06:11.898Z","msg":"http listening","group":"g1","url":"..."}
 *
 * level as its name, time as an ISO string, the message, the logger's bound fields (createLogger's
 * `base`, `child`), then the call's fields; a call's field replaces a bound one of the same name.
 *
 * - Secrets are replaced by `[redacted]` wherever REDACT_PATHS finds them, in bound fields too.
 * - A field whose value is an Error is written as { name, message, code?, cause? }, causes
 *   followed (at most MAX_CAUSES deep, cycles cut).
 * - Logging never throws: circular objects are written with "[Circular]", BigInts as numbers, and
 *   a field that cannot be serialized at all (a throwing getter) gives one line saying so.
 * - Writes to fd 2 are synchronous, so the last lines before `process.exit` are not lost.
 */
import pino, { type DestinationStream, type Logger as PinoLogger } from 'pino';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const LEVELS: ReadonlySet<string> = new Set<LogLevel>(['debug', 'info', 'warn', 'error', 'silent']);

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  /** Where lines go; default: fd 2 (stderr), written synchronously. */
  readonly destination?: DestinationStream;
}

export function isLogLevel(value: string): value is LogLevel {
  return LEVELS.has(value);
}

/**
 * Field paths whose values are replaced by `[redacted]` (pino's `redact`; `*` is one level of any
 * key). They cover request headers, the KafkaJS `sasl` options, the configuration's secrets, and
 * fields named as secrets on their own.
 */
export const REDACT_PATHS: readonly string[] = [
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'headers["proxy-authorization"]',
  'cookie',
  '*.cookie',
  'cookies',
  '*.cookies',
  'headers.cookie',
  '*.headers.cookie',
  'headers["set-cookie"]',
  '*["set-cookie"]',
  'token',
  '*.token',
  'password',
  '*.password',
  'secret',
  '*.secret',
  'sasl.*',
  '*.sasl.*',
  'peerSecret',
  '*.peerSecret',
  'clientAuth.secret',
  '*.clientAuth.secret',
];

export const CENSOR = '[redacted]';

/** Causes followed below an Error field. */
const MAX_CAUSES = 8;

/** An Error as a plain object: name, message, code (when it has one) and cause, recursively. */
function serializeError(error: Error, seen: Set<unknown> = new Set()): Record<string, unknown> {
  seen.add(error);
  const out: Record<string, unknown> = { name: error.name, message: error.message };
  if ('code' in error && error.code !== undefined) out.code = error.code;
  const cause = error.cause;
  if (cause !== undefined) {
    if (seen.has(cause)) out.cause = '[Circular]';
    else if (seen.size >= MAX_CAUSES) out.cause = '[...]';
    else out.cause = cause instanceof Error ? serializeError(cause, seen) : cause;
  }
  return out;
}

/** A copy of `fields` with Error values serialized; `first` (the message) goes before them. */
function prepare(fields: Record<string, unknown> | undefined, first?: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...first };
  if (fields)
    for (const key of Object.keys(fields)) {
      const value = fields[key];
      out[key] = value instanceof Error ? serializeError(value) : value;
    }
  return out;
}

let stderr: DestinationStream | undefined;

function defaultDestination(): DestinationStream {
  stderr ??= pino.destination({ fd: 2, sync: true });
  return stderr;
}

function wrap(instance: PinoLogger, bound: Record<string, unknown>): Logger {
  const write = (level: 'debug' | 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void => {
    if (!instance.isLevelEnabled(level)) return;
    try {
      // The message and the bound fields go into the object first (no message argument), so
      // they are written before the call's fields, as tools that match `"msg":"...".*"field"`
      // expect, and a call's field replaces a bound one of the same name.
      instance[level](prepare(fields, { msg: message, ...bound }));
    } catch (error) {
      try {
        instance[level]({ msg: message, logError: error instanceof Error ? error.message : String(error) });
      } catch {
        // Nothing left to report it with.
      }
    }
  };
  return {
    debug: (message, fields) => write('debug', message, fields),
    info: (message, fields) => write('info', message, fields),
    warn: (message, fields) => write('warn', message, fields),
    error: (message, fields) => write('error', message, fields),
    child: (fields) => wrap(instance, prepare(fields, bound)),
  };
}

export function createLogger(level: LogLevel, base: Record<string, unknown> = {}, options: LoggerOptions = {}): Logger {
  const instance = pino(
    {
      level,
      base: null,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: [...REDACT_PATHS], censor: CENSOR },
    },
    options.destination ?? defaultDestination(),
  );
  return wrap(instance, prepare(base));
}

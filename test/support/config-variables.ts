/**
 * The environment variables src/config.ts reads, found two ways: by scanning its source, and by
 * running `loadConfig` over a recording proxy of the environment. Used by the tests that keep
 * the README's configuration table and the deployment files (deploy/) true to the code.
 */
import { loadConfig } from '../../src/config.ts';
import { isGatewayError } from '../../src/errors.ts';

export const VARIABLE = /^[A-Z][A-Z0-9_]*$/;

/**
 * Every environment variable config.ts names in the code (comments stripped): `env.NAME`,
 * `env['NAME']`, `process.env.NAME`, and the string literals handed to its readers, which take
 * `(env, 'NAME', ...)` or name the variable for the error message (`fail('NAME', ...)`).
 */
export function variablesInSource(source: string): Set<string> {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const names = new Set<string>();
  const patterns = [
    /\benv\.([A-Z][A-Z0-9_]*)\b/g,
    /\benv\[\s*['"]([A-Z][A-Z0-9_]*)['"]\s*\]/g,
    /\(\s*env\s*,\s*['"]([A-Z][A-Z0-9_]*)['"]/g,
    /\bfail\(\s*['"]([A-Z][A-Z0-9_]*)['"]/g,
  ];
  for (const pattern of patterns) for (const match of code.matchAll(pattern)) names.add(match[1]!);
  return names;
}

/** The variables `loadConfig` actually reads from the environment object it is given. */
export function variablesRead(env: Record<string, string>): Set<string> {
  const read = new Set<string>();
  const recording = new Proxy(env, {
    get(target, key, receiver) {
      if (typeof key === 'string') read.add(key);
      return Reflect.get(target, key, receiver);
    },
  });
  loadConfig(recording);
  return read;
}

/** A valid value for each variable `loadConfig` cannot start without. */
const REQUIRED_SAMPLES: Readonly<Record<string, string>> = { KAFKA_BROKERS: '127.0.0.1:9092' };

/**
 * The variables `loadConfig` reads at run time, with and without the settings that open its
 * optional branches (client authentication, the peer secret).
 */
export function configVariables(): Set<string> {
  const base = { ...REQUIRED_SAMPLES };
  return new Set([
    ...variablesRead(base),
    ...variablesRead({ ...base, CLIENT_JWT_SECRET: 'x'.repeat(32), CLIENT_JWT_AUDIENCE: 'a', CLIENT_JWT_ISSUER: 'i', PEER_SECRET: 'y'.repeat(16) }),
  ]);
}

/**
 * The variables without which `loadConfig` refuses to start: starting from an empty
 * environment, each one its GW_CONFIG_INVALID error names as not set, until it succeeds.
 */
export function requiredVariables(): Set<string> {
  const env: Record<string, string> = {};
  const required = new Set<string>();
  for (;;) {
    try {
      loadConfig(env);
      return required;
    } catch (error) {
      const variable = isGatewayError(error) ? (error.details as { variable?: unknown } | undefined)?.variable : undefined;
      if (typeof variable !== 'string' || required.has(variable)) throw error;
      const sample = REQUIRED_SAMPLES[variable];
      if (sample === undefined) throw new Error(`loadConfig requires ${variable}: add a valid sample value to REQUIRED_SAMPLES`);
      required.add(variable);
      env[variable] = sample;
    }
  }
}

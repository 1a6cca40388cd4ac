/**
 * Rate limits per client (RATE_LIMIT_PER_SECOND, RATE_LIMIT_BURST): a token bucket per client
 * key, holding up to `burst` tokens and refilled at `perSecond` tokens a second. Each GraphQL
 * request over HTTP (queries and SSE subscriptions), each WebSocket connection attempt and each
 * WebSocket subscribe takes one token; with none left the client is refused with GW_RATE_LIMITED
 * (429, retriable) and told when one token will be there again (`Retry-After`, in whole seconds).
 *
 * The key is the token's subject (`sub:<sub>`) when client authentication is on and the token has
 * one, else the client's address (`ip:<address>`) as the socket reports it. Buckets live in an
 * LRU of at most `maxClients` entries; the bucket dropped from it is that of the client seen least
 * recently, which starts again with a full bucket.
 */
import { GatewayError } from '../errors.ts';
import { Lru } from '../lru.ts';

export interface RateLimitOptions {
  readonly perSecond: number;
  readonly burst: number;
  /** Buckets kept at once (default 100,000: about 17 MB with 40-character keys). */
  readonly maxClients?: number;
}

export interface RateLimiter {
  /** Takes one token of `key`'s bucket; undefined when taken, else the ms until one is there. */
  take(key: string, nowMs?: number): number | undefined;
  /** Takes one token or throws GW_RATE_LIMITED with `details.retryAfterSeconds`. */
  check(key: string, nowMs?: number): void;
  /** Buckets held now. */
  readonly size: number;
}

interface Bucket {
  tokens: number;
  atMs: number;
}

export const DEFAULT_MAX_CLIENTS = 100_000;

/** Whole seconds to wait for `ms` (at least 1), as Retry-After says it. */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

export function rateLimitError(retryAfterMs: number): GatewayError {
  const seconds = retryAfterSeconds(retryAfterMs);
  return new GatewayError('GW_RATE_LIMITED', `too many requests from this client; retry after ${seconds} s`, {
    details: { retryAfterSeconds: seconds },
  });
}

export function createRateLimiter(options: RateLimitOptions): RateLimiter {
  const perMs = options.perSecond / 1000;
  const buckets = new Lru<string, Bucket>(options.maxClients ?? DEFAULT_MAX_CLIENTS);
  const take = (key: string, nowMs = Date.now()): number | undefined => {
    let bucket = buckets.get(key);
    if (!bucket) {
      bucket = { tokens: options.burst, atMs: nowMs };
      buckets.set(key, bucket);
    } else if (nowMs > bucket.atMs) {
      bucket.tokens = Math.min(options.burst, bucket.tokens + (nowMs - bucket.atMs) * perMs);
      bucket.atMs = nowMs;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return undefined;
    }
    return Math.ceil((1 - bucket.tokens) / perMs);
  };
  return {
    take,
    check(key, nowMs) {
      const wait = take(key, nowMs);
      if (wait !== undefined) throw rateLimitError(wait);
    },
    get size() {
      return buckets.size;
    },
  };
}

/** The bucket key of a client: its token's subject when it has one, else its address. */
export function clientKey(subject: string | undefined, address: string | undefined): string {
  return subject !== undefined ? `sub:${subject}` : `ip:${address ?? 'unknown'}`;
}

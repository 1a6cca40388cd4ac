/**
 * Replay protection for signed peer requests: the nonces of accepted requests, each kept until
 * its request's time leaves the clock-skew window (after which the time check refuses the request
 * anyway). A signed request whose nonce is still kept is a replay.
 *
 * Memory is bounded: at most `capacity` nonces. When that many are kept and none has expired, a
 * new nonce is refused (`full`) rather than an older one forgotten, since forgetting would let
 * that older request be replayed; the caller retries once some expire.
 *
 * Nonces are grouped by the second their entry expires in, so expiry drops whole groups: no timer,
 * and no per-nonce timestamp.
 */

export type NonceClaim = 'fresh' | 'replayed' | 'full';

export interface NonceLedger {
  /**
   * Records `nonce` until `expiresAtMs` when it is new and there is room: `fresh`; `replayed`
   * when it is already kept; `full` when `capacity` unexpired nonces are kept.
   */
  claim(nonce: string, expiresAtMs: number, nowMs?: number): NonceClaim;
  /** Nonces kept now (expired groups are dropped on the next claim). */
  readonly size: number;
}

/** Default bound: about 3,300 peer requests per second sustained over a 30 s window. */
export const DEFAULT_NONCE_CAPACITY = 100_000;

export function createNonceLedger(capacity = DEFAULT_NONCE_CAPACITY): NonceLedger {
  const kept = new Set<string>();
  /** Expiry second -> nonces whose entry lasts until the end of that second. */
  const groups = new Map<number, string[]>();

  const expire = (nowMs: number): void => {
    for (const [second, nonces] of groups) {
      if ((second + 1) * 1000 > nowMs) continue;
      for (const nonce of nonces) kept.delete(nonce);
      groups.delete(second);
    }
  };

  return {
    claim(nonce, expiresAtMs, nowMs = Date.now()) {
      expire(nowMs);
      if (kept.has(nonce)) return 'replayed';
      if (kept.size >= capacity) return 'full';
      kept.add(nonce);
      const second = Math.floor(expiresAtMs / 1000);
      const group = groups.get(second);
      if (group) group.push(nonce);
      else groups.set(second, [nonce]);
      return 'fresh';
    },
    get size() {
      return kept.size;
    },
  };
}

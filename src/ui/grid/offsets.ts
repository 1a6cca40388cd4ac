/**
 * Applied offsets as the gateway reports them: `extensions.freshness` of a response, and the
 * consistency tokens of responses (`extensions.consistencyToken`) and of subscription events
 * (`token`), `"c1." + base64url(JSON { topic: { partition: nextOffset } })`. The grid keeps the
 * highest offsets it has seen, shows them, and sends them back with every read so that a read
 * (on any instance) is never older than what the grid already shows.
 */

export type Offsets = Record<string, Record<string, string>>;

const PREFIX = 'c1.';

/** The offsets of a consistency token, or undefined when it is not one. */
export function decodeToken(token: string): Offsets | undefined {
  if (!token.startsWith(PREFIX)) return undefined;
  try {
    const base64 = token.slice(PREFIX.length).replaceAll('-', '+').replaceAll('_', '/');
    const parsed: unknown = JSON.parse(atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4)));
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Offsets) : undefined;
  } catch {
    return undefined;
  }
}

/** The consistency token of `offsets` (topic names are ASCII, as Kafka requires). */
export function encodeToken(offsets: Offsets): string {
  return PREFIX + btoa(JSON.stringify(offsets)).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

/** Decimal offsets compare by length, then digit by digit (they exceed 2^53 in principle). */
function greater(a: string, b: string): boolean {
  return a.length !== b.length ? a.length > b.length : a > b;
}

/** Per topic and partition, the higher offset of the two; returns whether `into` changed. */
export function mergeOffsets(into: Offsets, from: Offsets): boolean {
  let changed = false;
  for (const [topic, partitions] of Object.entries(from)) {
    const target = (into[topic] ??= {});
    for (const [partition, offset] of Object.entries(partitions)) {
      const current = target[partition];
      if (current === undefined || greater(offset, current)) {
        target[partition] = offset;
        changed = true;
      }
    }
  }
  return changed;
}

/** `orders 0:120 1:98 · payments 0:300`: topics by name, partitions by number. */
export function describeOffsets(offsets: Offsets): string {
  return Object.keys(offsets)
    .sort()
    .map((topic) => {
      const partitions = Object.entries(offsets[topic]!).sort(([a], [b]) => Number(a) - Number(b));
      return `${topic} ${partitions.map(([partition, offset]) => `${partition}:${offset}`).join(' ')}`;
    })
    .join(' · ');
}

/** `350 ms ago`, `2.4 s ago`, `3 min ago`. */
export function describeAge(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms ago`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s ago`;
  return `${Math.round(ms / 60_000)} min ago`;
}

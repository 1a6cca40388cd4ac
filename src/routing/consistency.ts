/**
 * Consistency tokens: a compact form of "applied offsets per topic and partition". Every
 * response carries one (`extensions.consistencyToken`); a request may send one back (header
 * `x-gw-consistency` or request `extensions.consistencyToken`) to require that every partition it
 * reads has applied at least those offsets (read-your-writes, monotonic reads). The gateway
 * waits up to CONSISTENCY_WAIT_MS for them, then fails with GW_CONSISTENCY_TIMEOUT.
 *
 *   token   = "c1." base64url( JSON { "<topic>": { "<partition>": "<next offset>" } } )
 *
 * "Next offset" means everything below it is applied. A producer that wrote a record at offset
 * O of partition P of topic T builds the token for read-your-writes as { T: { P: O + 1 } }
 * (`tokenFromProduced`).
 */
import { GatewayError } from '../errors.ts';

export type Offsets = Record<string, Record<string, string>>;

const PREFIX = 'c1.';
const MAX_TOKEN_LENGTH = 16_384;

export function encodeToken(offsets: Offsets): string {
  return PREFIX + Buffer.from(JSON.stringify(offsets)).toString('base64url');
}

/** Parses a token; throws GW_QUERY_BAD_TOKEN naming what is wrong. */
export function decodeToken(token: string): Offsets {
  const bad = (why: string) => new GatewayError('GW_QUERY_BAD_TOKEN', `consistency token ${why}`);
  if (token.length > MAX_TOKEN_LENGTH) throw bad(`exceeds ${MAX_TOKEN_LENGTH} characters`);
  if (!token.startsWith(PREFIX)) throw bad(`must start with ${PREFIX}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token.slice(PREFIX.length), 'base64url').toString('utf8'));
  } catch {
    throw bad('is not base64url JSON');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw bad('must encode an object of topics');
  for (const [topic, partitions] of Object.entries(parsed)) {
    if (!partitions || typeof partitions !== 'object' || Array.isArray(partitions)) throw bad(`has no partitions object for ${topic}`);
    for (const [partition, offset] of Object.entries(partitions as Record<string, unknown>)) {
      if (!/^\d{1,9}$/.test(partition) || typeof offset !== 'string' || !/^\d{1,19}$/.test(offset)) {
        throw bad(`has a bad entry for ${topic} partition ${partition}`);
      }
    }
  }
  return parsed as Offsets;
}

/** The token a producer needs to read its own writes: each record's offset plus one. */
export function tokenFromProduced(records: ReadonlyArray<{ topic: string; partition: number; offset: string }>): string {
  const offsets: Offsets = {};
  for (const record of records) {
    const next = String(BigInt(record.offset) + 1n);
    const byPartition = (offsets[record.topic] ??= {});
    const before = byPartition[String(record.partition)];
    if (before === undefined || BigInt(next) > BigInt(before)) byPartition[String(record.partition)] = next;
  }
  return encodeToken(offsets);
}

/** The required offsets of `partitions` of `topic`, or undefined if the token names none. */
export function requiredFor(offsets: Offsets | undefined, topic: string, partitions: readonly number[]): Record<string, string> | undefined {
  const byPartition = offsets?.[topic];
  if (!byPartition) return undefined;
  const out: Record<string, string> = {};
  for (const partition of partitions) {
    const offset = byPartition[String(partition)];
    if (offset !== undefined) out[String(partition)] = offset;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * Partition assignment for the gateway's consumer group, plus the JSON userData each member
 * sends in its JoinGroup metadata. Pure: no Kafka client, no I/O.
 *
 * Contract of `assignPartitions(members, partitionCounts)`, each topic decided on its own except
 * for the choice of which members take the "extra" partitions:
 *
 * - Complete and exclusive: every partition 0..count-1 of every topic in `partitionCounts` goes to
 *   exactly one member, nothing else is assigned. Claims on unknown topics or out-of-range
 *   partitions are ignored. Every member gets an entry (possibly `[]`) for every topic; partition
 *   lists are ascending. With no members nothing can be assigned and the result is `{}`.
 * - Balanced per topic: with P partitions and M members each member gets floor(P/M) or
 *   ceil(P/M). The P % M "extras" are dealt over topics (in topic-name order) to the members that
 *   have received the fewest extras so far, so the extras each member gets over all topics differ
 *   by at most 1, and hence so do the members' total partition counts — for any topic counts,
 *   not only equal ones. Among members tied on extras received, an extra goes first to a member
 *   that already owns more than floor(P/M) of the topic (so it keeps one more), then by memberId.
 * - Sticky: a partition stays with its current owner while the owner is present and within its
 *   quota; an over-quota owner keeps its lowest-numbered partitions. When several members claim
 *   one partition (a stale claim), the smallest memberId is its owner and the other claims are
 *   ignored. Freed and unowned partitions fill under-quota members in memberId order.
 * - Minimal moves given the quotas: only over-quota owners give up partitions, only under-quota
 *   members receive. For one topic, a join moves partitions only to the new member and a leave
 *   moves only the leaver's partitions. With several topics the cross-topic rule can force an
 *   extra to a member that does not own one, costing a move (3 → 4 members on 3 topics × 6:
 *   4 moves, not 3, because the new member must end up with 4 of the 18 partitions, not 3).
 * - Deterministic: members are sorted by memberId (code-unit order), topics by name, so the input
 *   order of members and of claimed partitions does not matter. Feeding an output back in as the
 *   claims of the same members returns it unchanged.
 */

/** What a member tells the leader when it joins (carried as JSON in the protocol metadata userData). */
export interface MemberClaim {
  readonly memberId: string;
  /** How peers reach this instance, e.g. http://10.0.0.5:4000 */
  readonly url: string;
  /** Partitions this member owns now, per topic (from the previous generation); empty when new. */
  readonly owned: Readonly<Record<string, readonly number[]>>;
  /**
   * Partitions this member keeps a copy of without owning them (it owned them before; the copy is
   * kept in case they come back). Peers read them while their owner is gone or restoring; the
   * assignor ignores them. Optional on the wire (`{}` when absent).
   */
  readonly held?: Readonly<Record<string, readonly number[]>>;
}

export type Assignment = Record<string /*memberId*/, Record<string /*topic*/, number[]>>;

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Sticky, balanced, deterministic assignment; see the module comment for the contract. */
export function assignPartitions(members: readonly MemberClaim[], partitionCounts: Readonly<Record<string, number>>): Assignment {
  const sorted = [...members].sort((a, b) => byCodeUnit(a.memberId, b.memberId));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.memberId === sorted[i - 1]!.memberId) throw new TypeError(`duplicate memberId ${JSON.stringify(sorted[i]!.memberId)}`);
  }
  const count = sorted.length;
  // Built as entries and turned into objects with fromEntries, so a memberId or topic named __proto__ stays a plain key.
  const entries = sorted.map((): Array<[string, number[]]> => []);

  const extrasSoFar = new Array<number>(count).fill(0);
  for (const topic of Object.keys(partitionCounts).sort(byCodeUnit)) {
    const partitions = partitionCounts[topic]!;
    if (!Number.isSafeInteger(partitions) || partitions < 0) {
      throw new TypeError(`partition count of topic ${JSON.stringify(topic)} is not a non-negative integer: ${partitions}`);
    }
    if (count === 0) continue;
    // Current owner of each partition: the smallest memberId among its claimants.
    const owner = new Array<number>(partitions).fill(-1);
    sorted.forEach((member, index) => {
      const claimed = Object.hasOwn(member.owned, topic) ? member.owned[topic]! : [];
      for (const p of claimed) if (Number.isInteger(p) && p >= 0 && p < partitions && owner[p] === -1) owner[p] = index;
    });
    const ownedBy = sorted.map((): number[] => []);
    owner.forEach((index, p) => {
      if (index !== -1) ownedBy[index]!.push(p);
    });

    // Quotas: base for everyone, one extra for the first P % M members in extras-dealing order.
    const base = Math.floor(partitions / count);
    const wantsExtra = (i: number): number => (ownedBy[i]!.length > base ? 0 : 1);
    const order = sorted.map((_, i) => i).sort((a, b) => extrasSoFar[a]! - extrasSoFar[b]! || wantsExtra(a) - wantsExtra(b) || a - b);
    const quota = new Array<number>(count).fill(base);
    for (const i of order.slice(0, partitions % count)) {
      quota[i] = base + 1;
      extrasSoFar[i] = extrasSoFar[i]! + 1;
    }

    // Keep what fits in the quota, then hand out the rest in ascending order.
    const kept = ownedBy.map((list, i) => list.slice(0, quota[i]));
    const keptSet = new Set(kept.flat());
    const free = owner.map((_, p) => p).filter((p) => !keptSet.has(p));
    let next = 0;
    kept.forEach((list, i) => {
      while (list.length < quota[i]!) list.push(free[next++]!);
      list.sort((a, b) => a - b);
      entries[i]!.push([topic, list]);
    });
  }
  return Object.fromEntries(sorted.map((member, i) => [member.memberId, Object.fromEntries(entries[i]!)]));
}

/** How many partitions have an owner in both assignments and a different one in `after`. New partitions and partitions no longer assigned do not count. */
export function movedPartitions(before: Assignment, after: Assignment): number {
  const ownerBefore = new Map<string, Map<number, string>>();
  for (const [memberId, topics] of Object.entries(before)) {
    for (const [topic, partitions] of Object.entries(topics)) {
      let owners = ownerBefore.get(topic);
      if (!owners) ownerBefore.set(topic, (owners = new Map()));
      for (const p of partitions) owners.set(p, memberId);
    }
  }
  let moved = 0;
  for (const [memberId, topics] of Object.entries(after)) {
    for (const [topic, partitions] of Object.entries(topics)) {
      for (const p of partitions) {
        const previous = ownerBefore.get(topic)?.get(p);
        if (previous !== undefined && previous !== memberId) moved++;
      }
    }
  }
  return moved;
}

const USERDATA_VERSION = 1;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks a topic -> partitions record; returns a fresh copy. Throws TypeError naming the problem. */
function validatePartitions(name: string, value: unknown): Record<string, number[]> {
  if (!isPlainObject(value)) throw new TypeError(`userData ${name} is not an object of topic -> partition array`);
  return Object.fromEntries(
    Object.entries(value).map(([topic, partitions]) => {
      if (!Array.isArray(partitions)) throw new TypeError(`userData ${name}[${JSON.stringify(topic)}] is not an array`);
      for (const p of partitions) {
        if (typeof p !== 'number' || !Number.isSafeInteger(p) || p < 0) {
          throw new TypeError(`userData ${name}[${JSON.stringify(topic)}] holds ${JSON.stringify(p)}, not a non-negative integer partition`);
        }
      }
      return [topic, [...(partitions as number[])]];
    }),
  );
}

/** Checks url and owned; returns owned as a fresh record with fresh arrays. Throws TypeError naming the problem. */
function validateClaim(url: unknown, owned: unknown): Record<string, number[]> {
  if (typeof url !== 'string') throw new TypeError('userData url is not a string');
  const parsed = URL.parse(url);
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw new TypeError(`userData url ${JSON.stringify(url)} is not an http(s) URL`);
  }
  return validatePartitions('owned', owned);
}

/** Encode the JSON userData `{ v: 1, url, owned, held }` of a member's metadata. Throws TypeError on what decode would reject. */
export function encodeMemberUserData(claim: Omit<MemberClaim, 'memberId'>): Buffer {
  const owned = validateClaim(claim.url, claim.owned);
  const held = validatePartitions('held', claim.held ?? {});
  return Buffer.from(JSON.stringify({ v: USERDATA_VERSION, url: claim.url, owned, held }), 'utf8');
}

/**
 * Decode a member's userData. Strict: throws a TypeError naming the problem when it is missing,
 * not JSON, not an object, not version 1, has a url that is not http(s), or an `owned` (or a present
 * `held`) that is not an object of arrays of non-negative integers. Unknown extra top-level fields
 * are ignored.
 */
export function decodeMemberUserData(memberId: string, data: Buffer | null | undefined): MemberClaim {
  if (data === null || data === undefined || data.length === 0) throw new TypeError(`member ${memberId}: userData is missing`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(data.toString('utf8'));
  } catch (error) {
    throw new TypeError(`member ${memberId}: userData is not JSON (${(error as Error).message})`);
  }
  if (!isPlainObject(parsed)) throw new TypeError(`member ${memberId}: userData is not a JSON object`);
  if (parsed['v'] !== USERDATA_VERSION) throw new TypeError(`member ${memberId}: unsupported userData version ${JSON.stringify(parsed['v'])}`);
  try {
    const owned = validateClaim(parsed['url'], parsed['owned']);
    const held = validatePartitions('held', parsed['held'] ?? {});
    return { memberId, url: parsed['url'] as string, owned, held };
  } catch (error) {
    throw new TypeError(`member ${memberId}: ${(error as Error).message}`);
  }
}

/** Like decodeMemberUserData, but a malformed userData yields a claim owning nothing (url '') plus the error message. */
export function decodeMemberClaimOrEmpty(memberId: string, data: Buffer | null | undefined): { claim: MemberClaim; error?: string } {
  try {
    return { claim: decodeMemberUserData(memberId, data) };
  } catch (error) {
    return { claim: { memberId, url: '', owned: {} }, error: (error as Error).message };
  }
}

import { describe, expect, it } from 'vitest';
import {
  assignPartitions,
  decodeMemberClaimOrEmpty,
  decodeMemberUserData,
  encodeMemberUserData,
  movedPartitions,
  type Assignment,
  type MemberClaim,
} from '../../src/cluster/assignment.ts';
import { prng } from '../support/prng.ts';

const intIn = (rand: () => number, lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
function shuffled<T>(rand: () => number, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = intIn(rand, 0, i);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function claim(memberId: string, owned: Record<string, number[]> = {}): MemberClaim {
  return { memberId, url: `http://${memberId}:4000`, owned };
}
/** The claims members send in the next generation: what they were assigned in this one. */
function claimsFrom(assignment: Assignment, memberIds: readonly string[]): MemberClaim[] {
  return memberIds.map((id) => claim(id, assignment[id] ?? {}));
}

interface Case {
  seed: number;
  members: MemberClaim[];
  counts: Record<string, number>;
}

/** 1–12 members, 1–4 topics, 1–64 partitions, random prior ownership with overlapping (stale) claims, unknown topics and out-of-range partitions. */
function randomCase(seed: number, maxTopics = 4): Case {
  const rand = prng(seed);
  const counts: Record<string, number> = {};
  for (const topic of shuffled(rand, ['orders', 'customers', 'payments', 'shipments']).slice(0, intIn(rand, 1, maxTopics))) {
    counts[topic] = intIn(rand, 1, 64);
  }
  const ids = new Set<string>();
  const want = intIn(rand, 1, 12);
  while (ids.size < want) ids.add(`gw-${intIn(rand, 0, 999).toString(36)}`);
  const members = [...ids].map((id) => {
    const density = [0, 0.1, 0.5, 1][intIn(rand, 0, 3)]!;
    const owned: Record<string, number[]> = {};
    for (const topic of [...Object.keys(counts), 'ghost-topic']) {
      const p = (counts[topic] ?? 8) + 3; // a few out-of-range partitions too
      const list = Array.from({ length: p }, (_, i) => i).filter(() => rand() < density);
      if (list.length > 0 || rand() < 0.5) owned[topic] = shuffled(rand, list);
    }
    return claim(id, owned);
  });
  return { seed, members, counts };
}

/** The owner each partition has before assigning: smallest memberId among valid claimants. */
function winners(members: readonly MemberClaim[], topic: string, count: number): Map<number, string> {
  const won = new Map<number, string>();
  for (const member of [...members].sort((a, b) => byCodeUnit(a.memberId, b.memberId))) {
    for (const p of member.owned[topic] ?? []) if (p < count && !won.has(p)) won.set(p, member.memberId);
  }
  return won;
}

function checkInvariants({ members, counts }: Case, result: Assignment): void {
  const ids = members.map((m) => m.memberId).sort(byCodeUnit);
  const topics = Object.keys(counts).sort(byCodeUnit);
  expect(Object.keys(result)).toEqual(ids);
  const totals = new Map(ids.map((id) => [id, 0]));
  for (const id of ids) expect(Object.keys(result[id]!).sort(byCodeUnit)).toEqual(topics);
  for (const topic of topics) {
    const count = counts[topic]!;
    const seen: number[] = [];
    const floor = Math.floor(count / ids.length);
    for (const id of ids) {
      const list = result[id]![topic]!;
      expect(list).toEqual([...list].sort((a, b) => a - b));
      expect([floor, Math.ceil(count / ids.length)]).toContain(list.length); // balanced per topic
      seen.push(...list);
      totals.set(id, totals.get(id)! + list.length);
    }
    // complete and exclusive
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: count }, (_, i) => i));

    // sticky: each member keeps as many of its (winning) claims as its share allows, and
    // receives new partitions only if it kept all of them
    const won = winners(members, topic, count);
    for (const id of ids) {
      const mine = [...won].filter(([, owner]) => owner === id).map(([p]) => p);
      const assigned = result[id]![topic]!;
      const kept = mine.filter((p) => assigned.includes(p)).length;
      expect(kept).toBe(Math.min(mine.length, assigned.length));
    }
    if (topics.length === 1) {
      // one topic: moves are the minimum possible under per-topic balance
      const base = floor;
      const over = ids.map((id) => [...won.values()].filter((owner) => owner === id).length).filter((n) => n > base);
      const minimum = over.reduce((sum, n) => sum + n - base, 0) - Math.min(count % ids.length, over.length);
      const moved = [...won].filter(([p, owner]) => !result[owner]![topic]!.includes(p)).length;
      expect(moved).toBe(minimum);
    }
  }
  // across topics the extras are dealt evenly, so totals differ by at most 1 (any topic counts)
  expect(Math.max(...totals.values()) - Math.min(...totals.values())).toBeLessThanOrEqual(1);
}

describe('assignPartitions: randomized invariants', () => {
  const seeds = Array.from({ length: 400 }, (_, i) => 1000 + i);

  it('is complete, exclusive, balanced per topic and overall, and sticky', () => {
    for (const seed of seeds) {
      const c = randomCase(seed);
      try {
        checkInvariants(c, assignPartitions(c.members, c.counts));
      } catch (error) {
        throw new Error(`seed ${seed}: ${(error as Error).message}`);
      }
    }
  });

  it('moves the minimum for a single topic (extras go to members that can keep them)', () => {
    for (const seed of seeds) {
      const c = randomCase(seed, 1);
      checkInvariants(c, assignPartitions(c.members, c.counts));
    }
  });

  it('is deterministic under shuffled member and partition order, and idempotent', () => {
    for (const seed of seeds) {
      const c = randomCase(seed);
      const rand = prng(seed ^ 0x5eed);
      const result = assignPartitions(c.members, c.counts);
      const reordered = shuffled(rand, c.members).map((m) =>
        claim(m.memberId, Object.fromEntries(shuffled(rand, Object.entries(m.owned)).map(([t, ps]) => [t, shuffled(rand, ps)]))),
      );
      const again = assignPartitions(reordered, c.counts);
      expect(JSON.stringify(again)).toBe(JSON.stringify(result));
      const ids = c.members.map((m) => m.memberId);
      expect(assignPartitions(claimsFrom(result, ids), c.counts)).toEqual(result);
    }
  });

  it("single topic: a join moves partitions only to the new member, a leave only the leaver's", () => {
    for (const seed of seeds) {
      const rand = prng(seed);
      const count = intIn(rand, 1, 64);
      const ids = Array.from({ length: intIn(rand, 1, 11) }, (_, i) => `m${String(i * 10).padStart(3, '0')}`);
      const counts = { orders: count };
      const stable = assignPartitions(
        ids.map((id) => claim(id)),
        counts,
      );

      const joiner = `m${String(intIn(rand, 0, ids.length * 10)).padStart(3, '0')}5`;
      const joined = assignPartitions([...claimsFrom(stable, ids), claim(joiner)], counts);
      const share = joined[joiner]!['orders']!.length;
      expect([Math.floor(count / (ids.length + 1)), Math.ceil(count / (ids.length + 1))]).toContain(share);
      expect(movedPartitions(stable, joined)).toBe(share);
      for (const id of ids) expect(stable[id]!['orders']).toEqual(expect.arrayContaining(joined[id]!['orders']!));

      if (ids.length < 2) continue;
      const leaver = ids[intIn(rand, 0, ids.length - 1)]!;
      const rest = ids.filter((id) => id !== leaver);
      const left = assignPartitions(claimsFrom(stable, rest), counts);
      expect(movedPartitions(stable, left)).toBe(stable[leaver]!['orders']!.length);
      for (const id of rest) expect(left[id]!['orders']).toEqual(expect.arrayContaining(stable[id]!['orders']!));
    }
  });
});

describe('assignPartitions: scaling 3 topics x 6 partitions', () => {
  const counts = { orders: 6, customers: 6, payments: 6 };
  const topics = Object.keys(counts);
  const step = (before: Assignment, ids: string[]): { after: Assignment; moved: number } => {
    const after = assignPartitions(claimsFrom(before, ids), counts);
    checkInvariants({ seed: 0, members: claimsFrom(before, ids), counts }, after);
    expect(assignPartitions(claimsFrom(after, ids), counts)).toEqual(after); // stable once settled
    return { after, moved: movedPartitions(before, after) };
  };

  it('moves the minimum going 1 -> 2 -> 3 -> 4 members and back to 3', () => {
    const g1 = step({}, ['a']);
    expect(g1.moved).toBe(0);
    const g2 = step(g1.after, ['a', 'b']);
    expect(g2.moved).toBe(9); // b takes 3 of 6 in each topic
    const g3 = step(g2.after, ['a', 'b', 'c']);
    expect(g3.moved).toBe(6); // c takes 2 per topic; nothing moves between a and b
    const g4 = step(g3.after, ['a', 'b', 'c', 'd']);
    // d must end with 4 of 18 (totals 5,5,4,4), so at least 4 move; per topic 1 or 2 move
    expect(g4.moved).toBe(4);
    expect(topics.map((t) => g4.after['d']![t]!.length).reduce((a, b) => a + b)).toBe(4);
    const g5 = step(g4.after, ['a', 'b', 'c']);
    expect(g5.moved).toBe(4); // only d's partitions move
    for (const id of ['a', 'b', 'c']) {
      for (const t of topics) expect(g5.after[id]![t]).toEqual(expect.arrayContaining(g4.after[id]![t]!));
    }
  });

  it('1 -> 3: each new member gets exactly 2 per topic and the old member keeps 2 of its own', () => {
    const g1 = step({}, ['a']);
    const g3 = step(g1.after, ['a', 'b', 'c']);
    expect(g3.moved).toBe(12);
    for (const t of topics) {
      expect(g3.after['b']![t]).toHaveLength(2);
      expect(g3.after['c']![t]).toHaveLength(2);
      expect(g3.after['a']![t]).toHaveLength(2);
      expect(g1.after['a']![t]).toEqual(expect.arrayContaining(g3.after['a']![t]!));
    }
  });
});

describe('assignPartitions: edge cases', () => {
  it('gives a stale, contested partition to the smallest memberId only', () => {
    const result = assignPartitions([claim('b', { t: [0, 1, 2] }), claim('a', { t: [0, 1, 2] })], { t: 6 });
    expect(result).toEqual({ a: { t: [0, 1, 2] }, b: { t: [3, 4, 5] } });
  });

  it('ignores claims on unknown topics and out-of-range partitions', () => {
    const result = assignPartitions([claim('a', { t: [7, 1], ghost: [0] }), claim('b', { t: [-1, 1.5] })], { t: 2 });
    expect(result).toEqual({ a: { t: [1] }, b: { t: [0] } });
  });

  it('allows members with zero partitions and topics with zero partitions', () => {
    const result = assignPartitions(
      ['a', 'b', 'c', 'd', 'e'].map((id) => claim(id)),
      { t: 2, empty: 0 },
    );
    expect(result).toEqual({
      a: { empty: [], t: [0] },
      b: { empty: [], t: [1] },
      c: { empty: [], t: [] },
      d: { empty: [], t: [] },
      e: { empty: [], t: [] },
    });
  });

  it('rotates the extra partitions over topics for a fresh group', () => {
    const result = assignPartitions(
      ['a', 'b', 'c'].map((id) => claim(id)),
      { t1: 4, t2: 4, t3: 4, t4: 4 },
    );
    const extraHolder = ['t1', 't2', 't3', 't4'].map((t) => ['a', 'b', 'c'].find((id) => result[id]![t]!.length === 2));
    expect(extraHolder).toEqual(['a', 'b', 'c', 'a']);
  });

  it('returns {} with no members, and rejects bad counts and duplicate memberIds', () => {
    expect(assignPartitions([], { t: 3 })).toEqual({});
    expect(() => assignPartitions([claim('a')], { t: -1 })).toThrow(TypeError);
    expect(() => assignPartitions([claim('a')], { t: 1.5 })).toThrow(TypeError);
    expect(() => assignPartitions([claim('a'), claim('a')], { t: 1 })).toThrow(/duplicate memberId/);
  });
});

describe('movedPartitions', () => {
  it('counts partitions whose owner changed, not new or dropped ones', () => {
    const before: Assignment = { a: { t: [0, 1], u: [0] }, b: { t: [2] } };
    const after: Assignment = { a: { t: [0], v: [0] }, c: { t: [1, 2, 3] } };
    expect(movedPartitions(before, after)).toBe(2);
    expect(movedPartitions(before, before)).toBe(0);
    expect(movedPartitions({}, after)).toBe(0);
  });
});

describe('member userData', () => {
  const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
  const good = { url: 'https://10.0.0.5:4000', owned: { orders: [0, 3], customers: [] } };

  it('round-trips', () => {
    const data = encodeMemberUserData(good);
    expect(JSON.parse(data.toString('utf8'))).toEqual({ v: 1, ...good, held: {} });
    expect(decodeMemberUserData('m1', data)).toEqual({ memberId: 'm1', ...good, held: {} });
    expect(decodeMemberClaimOrEmpty('m1', data)).toEqual({ claim: { memberId: 'm1', ...good, held: {} } });
    const fresh = { url: 'http://gw:4000', owned: {}, held: {} };
    expect(decodeMemberUserData('m2', encodeMemberUserData(fresh))).toEqual({ memberId: 'm2', ...fresh });
    const keeping = { url: 'http://gw:4000', owned: { orders: [0] }, held: { orders: [2, 3] } };
    expect(decodeMemberUserData('m3', encodeMemberUserData(keeping))).toEqual({ memberId: 'm3', ...keeping });
  });

  it('reads userData without `held` (older members) as holding nothing', () => {
    expect(decodeMemberUserData('m4', json({ v: 1, ...good }))).toEqual({ memberId: 'm4', ...good, held: {} });
  });

  const malformed: Array<[string, Buffer | null | undefined, RegExp]> = [
    ['null', null, /missing/],
    ['undefined', undefined, /missing/],
    ['empty buffer', Buffer.alloc(0), /missing/],
    ['not JSON', Buffer.from('{v:1'), /not JSON/],
    ['a JSON array', json([1]), /not a JSON object/],
    ['JSON null', json(null), /not a JSON object/],
    ['version 2', json({ ...good, v: 2 }), /version 2/],
    ['no version', json(good), /version/],
    ['url ftp://x', json({ ...good, v: 1, url: 'ftp://x' }), /not an http\(s\) URL/],
    ['url not a URL', json({ ...good, v: 1, url: 'gw:4000 x' }), /not an http\(s\) URL/],
    ['url a number', json({ ...good, v: 1, url: 4000 }), /url is not a string/],
    ['owned missing', json({ v: 1, url: good.url }), /owned is not an object/],
    ['owned an array', json({ v: 1, url: good.url, owned: [[0]] }), /owned is not an object/],
    ['owned topic not an array', json({ v: 1, url: good.url, owned: { orders: 1 } }), /owned\["orders"\] is not an array/],
    ['negative partition', json({ v: 1, url: good.url, owned: { orders: [0, -1] } }), /holds -1/],
    ['non-integer partition', json({ v: 1, url: good.url, owned: { orders: [1.5] } }), /holds 1.5/],
    ['string partition', json({ v: 1, url: good.url, owned: { orders: ['1'] } }), /holds "1"/],
    ['unsafe integer partition', Buffer.from(`{"v":1,"url":"http://x","owned":{"o":[1e300]}}`), /not a non-negative integer/],
    ['held an array', json({ v: 1, ...good, held: [[0]] }), /held is not an object/],
    ['held negative partition', json({ v: 1, ...good, held: { orders: [-2] } }), /held\["orders"\] holds -2/],
  ];

  for (const [name, data, message] of malformed) {
    it(`rejects ${name}`, () => {
      expect(() => decodeMemberUserData('m9', data)).toThrow(TypeError);
      expect(() => decodeMemberUserData('m9', data)).toThrow(message);
      const { claim: empty, error } = decodeMemberClaimOrEmpty('m9', data);
      expect(empty).toEqual({ memberId: 'm9', url: '', owned: {} });
      expect(error).toMatch(message);
      expect(error).toMatch(/^member m9: /);
    });
  }

  it('refuses to encode what decode would reject', () => {
    expect(() => encodeMemberUserData({ url: 'ftp://x', owned: {} })).toThrow(TypeError);
    expect(() => encodeMemberUserData({ url: 'http://x', owned: { t: [-1] } })).toThrow(TypeError);
  });
});

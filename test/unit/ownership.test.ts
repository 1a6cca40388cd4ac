import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.ts';
import { createOwnership, type GroupMember } from '../../src/cluster/ownership.ts';

function ownershipOf(self: string, groups: Array<readonly GroupMember[]>) {
  let current: readonly GroupMember[] = [];
  const ownership = createOwnership({
    selfUrl: () => self,
    localPartitions: () => [],
    caughtUp: () => true,
    members: async () => current,
    logger: createLogger('error'),
  });
  return {
    ownership,
    async next() {
      current = groups.shift() ?? current;
      await ownership.refresh();
    },
  };
}

const A = 'http://a:1';
const B = 'http://b:1';
const C = 'http://c:1';

describe('ownership: fallbacks for a partition', () => {
  it('names the owners it saw before, most recent first', async () => {
    const { ownership, next } = ownershipOf(C, [
      [{ memberId: 'a', url: A, assignment: { t: [0, 1] } }],
      [
        { memberId: 'a', url: A, assignment: { t: [0] } },
        { memberId: 'b', url: B, assignment: { t: [1] } },
      ],
      [{ memberId: 'a', url: A, assignment: { t: [0, 1] } }],
    ]);
    await next();
    expect(ownership.copyHolders('t', 1)).toEqual([]);
    await next();
    expect(ownership.copyHolders('t', 1)).toEqual([A]);
    await next();
    expect(ownership.copyHolders('t', 1)).toEqual([B]); // A owns it again, so it is not a fallback
  });

  it('also names members that keep a copy, which an instance that joined later never saw owning it', async () => {
    const { ownership, next } = ownershipOf(C, [
      [
        { memberId: 'a', url: A, assignment: { t: [0] }, held: { t: [1, 2] } },
        { memberId: 'b', url: B, assignment: { t: [1] }, held: {} },
        { memberId: 'c', url: C, assignment: { t: [2] }, held: {} },
      ],
    ]);
    await next();
    expect(ownership.copyHolders('t', 1)).toEqual([A]);
    expect(ownership.copyHolders('t', 2)).toEqual([A]);
    expect(ownership.copyHolders('t', 0)).toEqual([]);
    expect(ownership.snapshot()).toEqual({ t: { '0': A, '1': B, '2': C } });
  });

  it('counts partitions a member owned when it joined and was not assigned again as held', async () => {
    // The group description carries each member's metadata from its last join: after a scale-out,
    // the old member's claim still lists everything it owned before giving partitions away.
    const { ownership, next } = ownershipOf(C, [
      [
        { memberId: 'a', url: A, assignment: { t: [0] }, owned: { t: [0, 1, 2] }, held: {} },
        { memberId: 'b', url: B, assignment: { t: [1] }, owned: {}, held: {} },
        { memberId: 'c', url: C, assignment: { t: [2] }, owned: {}, held: {} },
      ],
    ]);
    await next();
    expect(ownership.copyHolders('t', 1)).toEqual([A]);
    expect(ownership.copyHolders('t', 2)).toEqual([A]);
    expect(ownership.copyHolders('t', 0)).toEqual([]);
  });

  it('lists a member once when it was both a previous owner and a holder', async () => {
    const { ownership, next } = ownershipOf(C, [
      [{ memberId: 'a', url: A, assignment: { t: [0, 1] } }],
      [
        { memberId: 'a', url: A, assignment: { t: [0] }, held: { t: [1] } },
        { memberId: 'b', url: B, assignment: { t: [1] }, held: {} },
      ],
    ]);
    await next();
    await next();
    expect(ownership.copyHolders('t', 1)).toEqual([A]);
  });
});

import { beforeAll, describe, expect, it } from 'vitest';
import { keyed, order } from '../support/data.ts';
import { useFixture } from '../support/fixture.ts';
import type { TestGateway } from '../support/gateway.ts';
import { waitFor } from '../support/wait.ts';
import { collect } from '../support/ws.ts';

const ENTITY = 'subscription($id: ID!, $after: String) { orderChanged(orderId: $id, after: $after) { kind key token node { orderId } } }';

interface Change {
  kind: string;
  key: string | null;
  token: string;
  node: { orderId: string } | null;
}

describe('tombstone markers of the change log expire after TOMBSTONE_RETENTION_MS', () => {
  const fx = useFixture('tomb');
  let dataDir: string;
  let gw: TestGateway | undefined;
  const start = () => fx.startGateway({ dataDir, env: { TOMBSTONE_RETENTION_MS: '1000' } });

  beforeAll(async () => {
    dataDir = await fx.tempDir('gw-test-tomb-');
  });

  it('trims them, and a resume from before the trim point fails with GW_RESUME_TOO_FAR instead of missing the deletion', async () => {
    gw = await start();
    await fx.produce('orders', [keyed('orderId', order(1)), keyed('orderId', order(2))]);
    await fx.waitCaughtUp(gw, ['orders']);

    // A subscriber of order 1 takes a token, then goes away.
    const client = fx.wsClient(gw.url);
    const before = collect<Change>(client, ENTITY, { id: 'ord-000001' }, 'orderChanged');
    await waitFor(() => before.events.some((event) => event.kind === 'SNAPSHOT'), { what: 'snapshot' });
    const token = before.events.at(-1)!.token;
    before.stop();
    await client.dispose();

    // Order 1 is deleted; a second later its tombstone marker is trimmed.
    await fx.produce('orders', [{ key: 'ord-000001', value: null }]);
    await fx.waitCaughtUp(gw, ['orders']);
    const store = gw.gateway.stores.get('orders')!;
    await waitFor(() => gw!.gateway.trimmer.removed >= 1, { what: 'tombstone trimmed', timeoutMs: 15_000 });
    expect(await (await fetch(`${gw.url}/metrics`)).text()).toMatch(/^gw_changelog_tombstones_trimmed_total [1-9]/m);
    expect(
      store
        .changesSince(0, '0', 100)
        .concat(store.changesSince(1, '0', 100), store.changesSince(2, '0', 100))
        .filter((entry) => entry.deleted),
    ).toEqual([]);

    // After a restart the recent-changes buffer is empty, so a resume must use the change log,
    // which no longer has the deletion: the gateway refuses instead of answering without it.
    await gw.stop();
    gw = await start();
    const resumed = fx.wsClient(gw.url);
    const after = collect<Change>(resumed, ENTITY, { id: 'ord-000001', after: token }, 'orderChanged');
    await waitFor(() => after.errors.length > 0 || after.events.length > 0, { what: 'resume answer' });
    expect(after.events).toEqual([]);
    expect(JSON.stringify(after.errors)).toContain('GW_RESUME_TOO_FAR');
    after.stop();

    // A fresh subscription is fine, and sees the row gone.
    const fresh = collect<Change>(resumed, ENTITY, { id: 'ord-000001' }, 'orderChanged');
    await waitFor(() => fresh.events.length > 0, { what: 'fresh snapshot' });
    expect(fresh.errors).toEqual([]);
    expect(fresh.events[0]).toMatchObject({ kind: 'SNAPSHOT', key: 'ord-000001', node: null });
    fresh.stop();
    await resumed.dispose();
  });
});

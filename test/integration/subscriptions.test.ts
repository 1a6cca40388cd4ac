import { beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { partitionForKey } from '../../src/cluster/partitioner.ts';
import { customer, keyed, order } from '../support/data.ts';
import { useFixture } from '../support/fixture.ts';
import type { TestGateway } from '../support/gateway.ts';
import { waitFor } from '../support/wait.ts';
import { collect } from '../support/ws.ts';
import { sseText } from '../support/sse.ts';

interface Change {
  kind: string;
  key: string | null;
  token: string;
  node: { orderId: string; state: string; updatedAt: string; customer: { name: string } | null } | null;
}

const ENTITY = `subscription($id: ID!, $after: String) { orderChanged(orderId: $id, after: $after) { kind key token node { orderId state updatedAt customer { name } } } }`;
const LIST = `subscription($filter: OrderFilter, $after: String, $first: Int) {
  ordersChanged(filter: $filter, after: $after, first: $first, orderBy: { field: ORDER_ID }) { kind key token node { orderId state updatedAt customer { name } } }
}`;

describe('subscriptions over graphql-ws', () => {
  const fx = useFixture('sub');
  let gw: TestGateway;
  let counter = 0;
  const next = (overrides: Record<string, unknown> = {}) => order(50_000 + counter++, overrides);

  beforeAll(async () => {
    gw = await fx.startGateway({ env: { SUBSCRIPTION_BUFFER: '200', SUBSCRIPTIONS_PER_CONNECTION: '20' } });
    await fx.produce(
      'customers',
      Array.from({ length: 50 }, (_, i) => keyed('customerId', customer(i))),
    );
    await fx.produce(
      'orders',
      Array.from({ length: 30 }, (_, i) => keyed('orderId', order(i + 1))),
    );
    await fx.waitCaughtUp(gw, ['orders', 'customers']);
  });

  it('sends the current state, then every change of one key in order, with fresh joins', async () => {
    const client = fx.wsClient(gw.url);
    const sub = collect<Change>(client, ENTITY, { id: 'ord-000005' }, 'orderChanged');
    await waitFor(() => sub.events.length >= 1, { what: 'snapshot' });
    expect(sub.events[0]).toMatchObject({ kind: 'SNAPSHOT', key: 'ord-000005', node: { orderId: 'ord-000005', state: order(5).state } });
    const states = ['VALIDATED', 'SHIPPED', 'CANCELLED'];
    for (const [i, state] of states.entries()) {
      await fx.produce('orders', [keyed('orderId', order(5, { state, updatedAt: `2027-01-0${i + 1}T00:00:00.000Z` }))]);
      await waitFor(() => sub.events.length >= i + 2, { what: `change ${state}` });
    }
    // The joined customer is read when the event is sent, not cached from the snapshot.
    await fx.produce('customers', [keyed('customerId', customer(5, { name: 'Renamed Customer' }))]);
    await fx.waitCaughtUp(gw, ['customers']);
    await fx.produce('orders', [keyed('orderId', order(5, { state: 'SHIPPED', updatedAt: '2027-02-01T00:00:00.000Z' }))]);
    // Wait for it: an update and a tombstone applied in one slice collapse to the tombstone.
    await waitFor(() => sub.events.length >= 5, { what: 'update after the rename' });
    await fx.produce('orders', [{ key: 'ord-000005', value: null }]);
    await waitFor(() => sub.events.length >= 6, { what: 'last changes' });
    expect(sub.events.map((event) => event.kind)).toEqual(['SNAPSHOT', 'UPSERT', 'UPSERT', 'UPSERT', 'UPSERT', 'REMOVE']);
    expect(sub.events.slice(1, 4).map((event) => event.node!.state)).toEqual(states);
    expect(sub.events[4]!.node!.customer).toEqual({ name: 'Renamed Customer' });
    expect(sub.events[5]!.node).toBeNull();
    sub.stop();
    await client.dispose();
  });

  it('N subscribers x M changes: each gets every change of its filter, in order, once', async () => {
    const client = fx.wsClient(gw.url);
    const filters = [
      undefined,
      { state: { eq: 'CREATED' } },
      { currency: { in: ['EUR', 'GBP'] } },
      { state: { eq: 'SHIPPED' }, currency: { eq: 'USD' } },
    ];
    const subs = filters.map((filter) => collect<Change>(client, LIST, { filter, first: 5 }, 'ordersChanged'));
    await waitFor(() => subs.every((sub) => sub.events.some((event) => event.kind === 'CAUGHT_UP')), { what: 'snapshots' });
    const produced = Array.from({ length: 200 }, () => next());
    for (let i = 0; i < produced.length; i += 20) {
      await fx.produce(
        'orders',
        produced.slice(i, i + 20).map((row) => keyed('orderId', row)),
      );
    }
    await fx.waitCaughtUp(gw, ['orders']);
    const matches = [
      () => true,
      (row: ReturnType<typeof order>) => row.state === 'CREATED',
      (row: ReturnType<typeof order>) => row.currency === 'EUR' || row.currency === 'GBP',
      (row: ReturnType<typeof order>) => row.state === 'SHIPPED' && row.currency === 'USD',
    ];
    for (const [i, sub] of subs.entries()) {
      const expected = produced.filter(matches[i]!).map((row) => row.orderId);
      await waitFor(() => sub.events.filter((event) => event.kind === 'UPSERT').length >= expected.length, { what: `subscriber ${i}` });
      const live = sub.events.slice(sub.events.findIndex((event) => event.kind === 'CAUGHT_UP') + 1);
      expect(live.every((event) => event.kind === 'UPSERT')).toBe(true);
      const keys = live.map((event) => event.key!);
      expect(new Set(keys).size).toBe(keys.length);
      expect([...keys].sort()).toEqual([...expected].sort());
      // Per partition, events come in produce (offset) order.
      for (const partition of [0, 1, 2]) {
        const inPartition = (ids: string[]) => ids.filter((id) => partitionForKey(id, 3) === partition);
        expect(inPartition(keys)).toEqual(inPartition(expected));
      }
    }
    for (const sub of subs) sub.stop();
    await client.dispose();
  });

  it('resumes from a token with exactly the missed changes, after a disconnect', async () => {
    const first = fx.wsClient(gw.url);
    const filter = { state: { eq: 'VALIDATED' } };
    const before = collect<Change>(first, LIST, { filter, first: 1 }, 'ordersChanged');
    await waitFor(() => before.events.some((event) => event.kind === 'CAUGHT_UP'), { what: 'caught up' });
    const seen = Array.from({ length: 10 }, () => next({ state: 'VALIDATED' }));
    await fx.produce(
      'orders',
      seen.map((row) => keyed('orderId', row)),
    );
    await waitFor(() => before.events.filter((event) => event.kind === 'UPSERT').length >= 10, { what: 'first changes' });
    const token = before.events[before.events.length - 1]!.token;
    before.stop();
    await first.dispose();

    // While disconnected: new matching rows, a row that leaves the filter, a deleted row, noise.
    const missed = Array.from({ length: 7 }, () => next({ state: 'VALIDATED' }));
    await fx.produce('orders', [
      ...missed.map((row) => keyed('orderId', row)),
      keyed('orderId', { ...seen[0]!, state: 'SHIPPED' }),
      { key: seen[1]!.orderId, value: null },
      ...Array.from({ length: 5 }, () => keyed('orderId', next({ state: 'FAILED' }))),
    ]);
    await fx.waitCaughtUp(gw, ['orders']);

    const second = fx.wsClient(gw.url);
    const after = collect<Change>(second, LIST, { filter, after: token }, 'ordersChanged');
    await waitFor(() => after.events.some((event) => event.kind === 'CAUGHT_UP'), { what: 'resume caught up' });
    const replay = after.events.slice(
      0,
      after.events.findIndex((event) => event.kind === 'CAUGHT_UP'),
    );
    expect(replay.filter((event) => event.kind === 'SNAPSHOT')).toEqual([]);
    expect(
      replay
        .filter((event) => event.kind === 'UPSERT')
        .map((event) => event.key)
        .sort(),
    ).toEqual(missed.map((row) => row.orderId).sort());
    const removed = replay.filter((event) => event.kind === 'REMOVE').map((event) => event.key!);
    expect(removed).toContain(seen[0]!.orderId);
    expect(removed).toContain(seen[1]!.orderId);
    // Rows that never matched may show as REMOVE (harmless), but no row already delivered reappears as UPSERT.
    expect(replay.filter((event) => event.kind === 'UPSERT' && seen.some((row) => row.orderId === event.key))).toEqual([]);
    // And it is live again.
    const later = next({ state: 'VALIDATED' });
    await fx.produce('orders', [keyed('orderId', later)]);
    await waitFor(() => after.events.some((event) => event.key === later.orderId), { what: 'live after resume' });
    after.stop();
    await second.dispose();
  });

  it('cuts off a stalled client with a resume token and does not delay a fast one', { timeout: 120_000 }, async () => {
    const fast = fx.wsClient(gw.url);
    const fastSub = collect<Change>(fast, LIST, { first: 1 }, 'ordersChanged');
    // The stalled client: a raw socket that stops reading after subscribing.
    const socket = fx.websocket(gw.url);
    await new Promise((resolve) => socket.once('open', resolve));
    const received: string[] = [];
    socket.on('message', (data) => received.push(String(data)));
    socket.send(JSON.stringify({ type: 'connection_init' }));
    await waitFor(() => received.some((message) => message.includes('connection_ack')), { what: 'ack' });
    const heavy = LIST.replace('node { orderId', 'node { product orderId').replace(/\s+/g, ' ');
    socket.send(JSON.stringify({ id: 's1', type: 'subscribe', payload: { query: heavy, variables: { first: 1 } } }));
    await waitFor(() => received.some((message) => message.includes('CAUGHT_UP')), { what: 'stalled client caught up' });
    await waitFor(() => fastSub.events.some((event) => event.kind === 'CAUGHT_UP'), { what: 'fast client caught up' });
    socket.pause();

    // 3,000 events of 16 KB for the stalled client: more than loopback socket buffers (up to
    // ~36 MB here) plus its 200-event queue hold. The fast client does not select the big field.
    const big = 'x'.repeat(16_000);
    const rows = Array.from({ length: 3000 }, () => next({ product: big }));
    const started = Date.now();
    for (let i = 0; i < rows.length; i += 50)
      await fx.produce(
        'orders',
        rows.slice(i, i + 50).map((row) => keyed('orderId', row)),
      );
    await waitFor(() => fastSub.events.filter((event) => rows.some((row) => row.orderId === event.key)).length >= rows.length, {
      what: 'fast client got everything',
      timeoutMs: 60_000,
    });
    const fastMs = Date.now() - started;
    expect(fastMs).toBeLessThan(30_000);

    socket.resume();
    await waitFor(() => received.some((message) => message.includes('GW_SUBSCRIPTION_OVERFLOW')), { what: 'overflow error', timeoutMs: 30_000 });
    const overflow = JSON.parse(received.find((message) => message.includes('GW_SUBSCRIPTION_OVERFLOW'))!) as {
      payload: { errors: Array<{ extensions: { details: { token: string } } }> };
    };
    expect(overflow.payload.errors[0]!.extensions.details.token).toMatch(/^c1\./);
    socket.close();
    fastSub.stop();
    await fast.dispose();
  });

  it('serves the same subscription over SSE', async () => {
    const abort = fx.abortController();
    const response = await fetch(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: ENTITY, variables: { id: 'ord-000011' } }),
      signal: abort.signal,
    });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const stream = sseText(response);
    await stream.readUntil('"kind":"SNAPSHOT"');
    await fx.produce('orders', [keyed('orderId', order(11, { state: 'CANCELLED' }))]);
    await stream.readUntil('"kind":"UPSERT"');
    expect(stream.text).toContain('"state":"CANCELLED"');
    abort.abort();
  });

  it('follows the graphql-ws protocol close codes', async () => {
    const closeCode = (steps: (socket: WebSocket) => void) =>
      new Promise<number>((resolve) => {
        const socket = fx.websocket(gw.url);
        socket.once('close', (code) => resolve(code));
        socket.once('open', () => steps(socket));
      });
    const init = JSON.stringify({ type: 'connection_init' });
    const subscribe = (id: string) =>
      JSON.stringify({ id, type: 'subscribe', payload: { query: 'subscription { orderChanged(orderId: "ord-000001") { kind } }' } });
    expect(await closeCode(() => undefined)).toBe(4408); // no init in time
    expect(
      await closeCode((s) => {
        s.send(init);
        s.send(init);
      }),
    ).toBe(4429); // second init
    expect(await closeCode((s) => s.send(subscribe('a')))).toBe(4401); // subscribe before ack
    expect(
      await closeCode((s) => {
        s.send(init);
        s.once('message', () => {
          s.send(subscribe('dup'));
          s.send(subscribe('dup'));
        });
      }),
    ).toBe(4409); // duplicate id
    expect(await closeCode((s) => s.send('{not json'))).toBe(4400); // malformed message
  });

  it('runs each subscribe of a shared query text with its own operationName, variables and errors', async () => {
    const client = fx.wsClient(gw.url);
    const run = (payload: { query: string; operationName?: string; variables?: Record<string, unknown> }) => {
      const received: { data: unknown[]; errors: unknown[] } = { data: [], errors: [] };
      const stop = client.subscribe(payload, {
        next: (result) => {
          if (result.data) received.data.push(result.data);
          if (result.errors) received.errors.push(...result.errors);
        },
        error: (error) => received.errors.push(...(Array.isArray(error) ? error : [error])),
        complete: () => undefined,
      });
      return { received, stop };
    };
    const two = `subscription One($id: ID!) { orderChanged(orderId: $id) { kind key } }
      subscription Many($first: Int) { ordersChanged(first: $first, orderBy: { field: ORDER_ID }) { kind } }`;
    const one = run({ query: two, operationName: 'One', variables: { id: 'ord-000003' } });
    const many = run({ query: two, operationName: 'Many', variables: { first: 1 } });
    const missing = run({ query: two, operationName: 'One', variables: {} });
    await waitFor(() => one.received.data.length > 0 && many.received.data.length > 0 && missing.received.errors.length > 0, {
      what: 'both operations and the variable error',
    });
    expect(one.received.data[0]).toEqual({ orderChanged: { kind: 'SNAPSHOT', key: 'ord-000003' } });
    expect(many.received.data[0]).toHaveProperty('ordersChanged.kind');
    expect(missing.received.errors).toMatchObject([{ message: 'Variable "$id" of required type "ID!" was not provided.' }]);

    const invalid = 'subscription { orderChanged(orderId: "ord-000001") { nope } }';
    const first = run({ query: invalid });
    const second = run({ query: invalid });
    await waitFor(() => first.received.errors.length > 0 && second.received.errors.length > 0, { what: 'validation errors' });
    expect(second.received.errors).toEqual(first.received.errors);
    expect(first.received.errors).toEqual([
      // As over HTTP: the code of a validation error (yoga's envelop runs WebSocket operations too).
      {
        message: 'Cannot query field "nope" on type "OrderChange". Did you mean "node"?',
        locations: [{ line: 1, column: 54 }],
        extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
      },
    ]);
    for (const sub of [one, many, missing, first, second]) sub.stop();
    await client.dispose();
  });

  it('limits subscriptions per connection with GW_SUBSCRIPTION_LIMIT', async () => {
    const client = fx.wsClient(gw.url);
    const subs = Array.from({ length: 21 }, (_, i) => collect<Change>(client, ENTITY, { id: `ord-${i}` }, 'orderChanged'));
    await waitFor(() => subs.some((sub) => sub.errors.length > 0), { what: 'limit error' });
    const limited = subs.find((sub) => sub.errors.length > 0)!;
    expect(JSON.stringify(limited.errors)).toContain('GW_SUBSCRIPTION_LIMIT');
    for (const sub of subs) sub.stop();
    await client.dispose();
  });

  it('does not count rejected subscribes against the per-connection limit', async () => {
    const client = fx.wsClient(gw.url);
    const invalid = Array.from({ length: 25 }, () =>
      collect<Change>(client, 'subscription { orderChanged(orderId: "ord-1") { nope } }', {}, 'orderChanged'),
    );
    await waitFor(() => invalid.every((sub) => sub.done), { what: 'validation errors' });
    expect(invalid.every((sub) => JSON.stringify(sub.errors).includes('Cannot query field'))).toBe(true);
    const valid = Array.from({ length: 20 }, (_, i) => collect<Change>(client, ENTITY, { id: `ord-${i}` }, 'orderChanged'));
    await waitFor(() => valid.every((sub) => sub.events.length > 0 || sub.errors.length > 0), { what: 'snapshots' });
    expect(valid.flatMap((sub) => sub.errors)).toEqual([]);
    for (const sub of [...invalid, ...valid]) sub.stop();
    await client.dispose();
  });
});

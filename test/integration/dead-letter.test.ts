import { beforeAll, describe, expect, it } from 'vitest';
import { keyed, order } from '../support/data.ts';
import { useFixture } from '../support/fixture.ts';
import type { TestGateway } from '../support/gateway.ts';
import { readTopic } from '../support/kcat.ts';

describe('dead-letter topic', () => {
  const fx = useFixture('dlq');
  let gw: TestGateway;

  beforeAll(async () => {
    // GraphQL in process; /metrics (the HTTP layer) over a real socket.
    gw = await fx.startGateway({ transport: 'in-process', env: { TOPIC_PARTITIONS: '1' } });
  });

  it('sends each bad record there with its reason and keeps applying the partition', async () => {
    const good = order(1);
    const bad = [
      { key: 'ord-bad-json', value: '{"orderId": "ord-bad-json", ', expect: 'GW_RECORD_MALFORMED', reason: /not UTF-8 JSON/ },
      {
        key: 'ord-missing',
        value: JSON.stringify({ ...order(2, { orderId: 'ord-missing' }), state: undefined }),
        expect: 'GW_RECORD_INVALID',
        reason: /state/,
      },
      {
        key: 'ord-wrong-type',
        value: JSON.stringify(order(3, { orderId: 'ord-wrong-type', quantity: 'three' })),
        expect: 'GW_RECORD_INVALID',
        reason: /quantity/,
      },
      {
        key: 'ord-bad-enum',
        value: JSON.stringify(order(4, { orderId: 'ord-bad-enum', state: 'LOST' })),
        expect: 'GW_RECORD_INVALID',
        reason: /state: expected one of/,
      },
    ];
    const produced = await fx.produce('orders', [...bad.map(({ key, value }) => ({ key, value })), keyed('orderId', good)]);
    await fx.waitCaughtUp(gw, ['orders']);

    // The valid record after the bad ones in the same partition is applied.
    const data = await gw.query<{ order: { orderId: string } | null }>(`{ order(orderId: "${good.orderId}") { orderId } }`);
    expect(data.order).toEqual({ orderId: good.orderId });
    for (const { key } of bad) {
      const missing = await gw.query<{ order: unknown }>(`{ order(orderId: "${key}") { orderId } }`);
      expect(missing.order).toBeNull();
    }
    expect(gw.gateway.ingestor.counters.deadLettered).toBe(bad.length);

    // Read the dead-letter topic back, outside any consumer group.
    const received = await readTopic(gw.config.deadLetterTopic, bad.length);
    expect(received.length).toBe(bad.length);
    const base = BigInt(produced[0]!.baseOffset);
    const letters = received.map((record) => JSON.parse(record.value) as Record<string, string | number>);
    bad.forEach((entry, i) => {
      const letter = letters.find((candidate) => Buffer.from(String(candidate.key), 'base64').toString() === entry.key);
      expect(letter, entry.key).toBeDefined();
      expect(letter!.code).toBe(entry.expect);
      expect(String(letter!.reason)).toMatch(entry.reason);
      expect(letter!.topic).toBe(fx.topic('orders'));
      expect(letter!.partition).toBe(0);
      expect(letter!.offset).toBe(String(base + BigInt(i)));
      expect(Buffer.from(String(letter!.value), 'base64').toString()).toBe(entry.value);
    });
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toContain(`gw_dead_letter_total ${bad.length}`);
  });
});

/**
 * Hostile records against a real broker and a real store: oversize values and keys, bursts of
 * invalid records, malformed bytes, records on the wrong partition, and a dead-letter topic that
 * refuses writes for a while. Every valid record must be applied, every bad one dead-lettered
 * (size-aware, with its reason), and the instance must stay healthy, also after a restart.
 */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { crc32Partition, partitionForKey } from '../../src/cluster/partitioner.ts';
import { useFixture } from '../support/fixture.ts';
import { readTopic } from '../support/kcat.ts';
import { brokers, type TestGateway } from '../support/gateway.ts';
import { keyed, order } from '../support/data.ts';
import { waitFor } from '../support/wait.ts';

const run = promisify(execFile);

interface Letter {
  v: number;
  code: string;
  reason: string;
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  keyBytes: number;
  keyTruncated: boolean;
  keySha256?: string;
  value: string | null;
  valueBytes: number;
  valueTruncated: boolean;
  valueSha256: string | null;
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** An admin client of the test's own, to create topics with settings and change them live. */
async function admin() {
  const client = new kafkajs.Kafka({ clientId: 'poison-tests', brokers: brokers().split(','), logLevel: kafkajs.logLevel.NOTHING });
  const handle = client.admin();
  await handle.connect();
  return handle;
}

/** Produces rows with kcat (librdkafka, default partitioner consistent_random) keyed by orderId. */
async function produceWithKcat(topic: string, rows: ReadonlyArray<Record<string, unknown>>): Promise<void> {
  const input = rows.map((row) => `${row.orderId}\t${JSON.stringify(row)}`).join('\n');
  await new Promise<void>((resolve, reject) => {
    const child = execFile('kcat', ['-P', '-b', brokers(), '-t', topic, '-K', '\t'], (error) => (error ? reject(error) : resolve()));
    child.stdin!.end(`${input}\n`);
  });
}

describe('hostile records, mixed with valid ones', () => {
  const fx = useFixture('poison');

  it('dead-letters every kind of bad record, applies every valid one, and stays healthy across a restart', async () => {
    const topic = fx.topic('orders');
    const partitions = 3;
    // The source topic accepts records far above the gateway's RECORD_MAX_BYTES.
    const kafkaAdmin = await admin();
    await kafkaAdmin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic,
          numPartitions: partitions,
          configEntries: [
            { name: 'max.message.bytes', value: String(8 << 20) },
            { name: 'cleanup.policy', value: 'compact' },
          ],
        },
      ],
    });
    await kafkaAdmin.disconnect();

    const dataDir = await fx.tempDir('poison-store');
    const env = { TOPIC_PARTITIONS: String(partitions), DEAD_LETTER_MAX_BYTES: String(256 * 1024) };
    let gw: TestGateway = await fx.startGateway({ dataDir, env });
    {
      const big = (n: number) => 'x'.repeat(n);
      const valid = Array.from({ length: 60 }, (_, i) => order(100 + i));
      const onPartition = (key: string) => partitionForKey(key, partitions);
      const wrongPartition = order(900);
      const hugeKey = `ord-${big(600 * 1024)}`;
      const nested = `{"orderId":"ord-nested","x":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
      const bad: Array<{ key: string | Buffer; value: string | Buffer | null; code: string; partition?: number }> = [
        // An invalid value too large to copy whole into a dead letter.
        {
          key: 'ord-big-invalid',
          value: JSON.stringify({ ...order(1, { orderId: 'ord-big-invalid' }), state: big(700 * 1024) }),
          code: 'GW_RECORD_INVALID',
        },
        // Over RECORD_MAX_BYTES (1 MiB): refused unread.
        {
          key: 'ord-too-large',
          value: JSON.stringify({ ...order(2, { orderId: 'ord-too-large' }), product: big(3 << 20) }),
          code: 'GW_RECORD_TOO_LARGE',
        },
        // A key far larger than a dead letter's key.
        { key: hugeKey, value: JSON.stringify(order(3)), code: 'GW_RECORD_INVALID' },
        { key: 'ord-nested', value: nested, code: 'GW_RECORD_INVALID' },
        { key: 'ord-not-utf8', value: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), code: 'GW_RECORD_MALFORMED' },
        { key: Buffer.from([0xc3, 0x28]), value: JSON.stringify(order(4)), code: 'GW_RECORD_MALFORMED' },
        { key: 'ord-array', value: '[1,2,3]', code: 'GW_RECORD_MALFORMED' },
        // A burst of small invalid records (a few hundred KB in all).
        ...Array.from({ length: 300 }, (_, i) => ({
          key: `ord-burst-${i}`,
          value: JSON.stringify({ ...order(5, { orderId: `ord-burst-${i}` }), quantity: big(2000) }),
          code: 'GW_RECORD_INVALID',
        })),
        // Produced where its key does not map (as a librdkafka producer would place it).
        {
          key: wrongPartition.orderId,
          value: JSON.stringify(wrongPartition),
          partition: (onPartition(wrongPartition.orderId) + 1) % partitions,
          code: 'GW_RECORD_WRONG_PARTITION',
        },
      ];
      // Interleave: bad records between valid ones on every partition.
      const records = [];
      for (let i = 0; i < Math.max(valid.length, bad.length); i++) {
        if (i < bad.length) {
          const entry = bad[i]!;
          const partition = entry.partition ?? partitionForKey(typeof entry.key === 'string' ? entry.key : entry.key, partitions);
          records.push({ key: entry.key, value: entry.value, partition });
        }
        if (i < valid.length) records.push({ ...keyed('orderId', valid[i]!), partition: onPartition(valid[i]!.orderId) });
      }
      for (let i = 0; i < records.length; i += 50) await fx.produce('orders', records.slice(i, i + 50));
      await fx.waitCaughtUp(gw, ['orders']);

      // Every valid record is applied.
      const found = await gw.query<{ orders: { totalCount: number } }>('{ orders(first: 1) { totalCount } }');
      expect(found.orders.totalCount).toBe(valid.length);
      const one = await gw.query<{ order: { orderId: string } | null }>(`{ order(orderId: "${valid[59]!.orderId}") { orderId } }`);
      expect(one.order?.orderId).toBe(valid[59]!.orderId);
      const moved = await gw.query<{ order: unknown }>(`{ order(orderId: "${wrongPartition.orderId}") { orderId } }`);
      expect(moved.order).toBeNull();

      // Every bad record is dead-lettered once, with its code, and large parts by excerpt and digest.
      expect(gw.gateway.ingestor.counters.deadLettered).toBe(bad.length);
      const received = await readTopic(gw.config.deadLetterTopic, bad.length);
      expect(received.length).toBe(bad.length);
      const letters = received.map((record) => {
        expect(Buffer.byteLength(record.value)).toBeLessThanOrEqual(256 * 1024);
        return JSON.parse(record.value) as Letter;
      });
      expect(new Set(letters.map((letter) => `${letter.partition}/${letter.offset}`)).size).toBe(bad.length);
      const byCode = new Map<string, number>();
      for (const letter of letters) byCode.set(letter.code, (byCode.get(letter.code) ?? 0) + 1);
      const expectedByCode = new Map<string, number>();
      for (const entry of bad) expectedByCode.set(entry.code, (expectedByCode.get(entry.code) ?? 0) + 1);
      expect(byCode).toEqual(expectedByCode);
      const bigLetter = letters.find((letter) => letter.key && Buffer.from(letter.key, 'base64').toString() === 'ord-big-invalid')!;
      expect(bigLetter.valueTruncated).toBe(true);
      expect(bigLetter.valueSha256).toBe(sha256(Buffer.from(bad[0]!.value as string)));
      expect(bigLetter.valueBytes).toBe(Buffer.byteLength(bad[0]!.value as string));
      expect(bigLetter.reason).toMatch(/state: expected one of/);
      const tooLarge = letters.find((letter) => letter.code === 'GW_RECORD_TOO_LARGE')!;
      expect(tooLarge.reason).toMatch(/over the limit of 1048576/);
      expect(tooLarge.valueTruncated).toBe(true);
      const keyLetter = letters.find((letter) => letter.keyTruncated)!;
      expect(keyLetter.keySha256).toBe(sha256(Buffer.from(hugeKey)));
      expect(keyLetter.keyBytes).toBe(Buffer.byteLength(hugeKey));
      const wrong = letters.find((letter) => letter.code === 'GW_RECORD_WRONG_PARTITION')!;
      expect(wrong.reason).toMatch(/maps to partition \d of 3/);
      // Offsets point at the records themselves.
      for (const letter of letters) expect(letter.topic).toBe(topic);

      const metrics = await (await fetch(`${gw.url}/metrics`)).text();
      expect(metrics).toContain('gw_dead_letter_by_code_total{code="GW_RECORD_WRONG_PARTITION"} 1');
      expect(metrics).toContain('gw_dead_letter_by_code_total{code="GW_RECORD_TOO_LARGE"} 1');
      expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);

      // A restart resumes from the stored offsets: nothing is applied or dead-lettered again.
      await gw.stop();
      gw = await fx.startGateway({ dataDir, env });
      await fx.waitCaughtUp(gw, ['orders']);
      expect(gw.gateway.ingestor.counters.deadLettered).toBe(0);
      expect((await gw.query<{ orders: { totalCount: number } }>('{ orders(first: 1) { totalCount } }')).orders.totalCount).toBe(valid.length);
      expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);
    }
  });
});

describe('a dead-letter topic that refuses writes', () => {
  const fx = useFixture('dlq-down');

  it('stalls only the affected partition while the dead-letter topic refuses writes, then resumes without loss', async () => {
    const dlq = `${fx.prefix}gateway.dead-letter`;
    // The dead-letter topic takes nothing: every envelope is larger than its limit.
    const kafkaAdmin = await admin();
    await kafkaAdmin.createTopics({
      waitForLeaders: true,
      topics: [{ topic: dlq, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: '64' }] }],
    });
    fx.defer(() => kafkaAdmin.disconnect());
    const gw = await fx.startGateway({ env: { TOPIC_PARTITIONS: '2' } });
    {
      const topic = fx.topic('orders');
      const keysOn = (partition: number, count: number, from: number) => {
        const out = [];
        for (let n = from; out.length < count; n++) if (partitionForKey(order(n).orderId, 2) === partition) out.push(order(n));
        return out;
      };
      const [before, after] = [keysOn(0, 2, 1000), keysOn(0, 3, 2000)];
      // A key of partition 0 with a broken value, between valid records of the same partition.
      const bad = { key: keysOn(0, 1, 5000)[0]!.orderId, value: '{"broken": ' };
      await fx.produce('orders', [
        ...before.map((row) => keyed('orderId', row)),
        { key: bad.key, value: bad.value, partition: 0 },
        ...after.map((row) => keyed('orderId', row)),
      ]);

      // Partition 0 stops at the bad record; /readyz, metrics and answers that read it say so.
      await waitFor(async () => (await fetch(`${gw.url}/readyz`)).status === 503, { what: '/readyz 503', timeoutMs: 30_000 });
      const ready = (await (await fetch(`${gw.url}/readyz`)).json()) as { stalled: Array<{ topic: string; partition: number; reason: string }> };
      expect(ready.stalled).toEqual([expect.objectContaining({ topic, partition: 0, reason: expect.stringMatching(/dead-letter topic/) })]);
      expect(await (await fetch(`${gw.url}/metrics`)).text()).toContain(`gw_partition_stalled{topic="${topic}",partition="0"} 1`);
      for (const row of before) expect((await gw.query<{ order: unknown }>(`{ order(orderId: "${row.orderId}") { orderId } }`)).order).not.toBeNull();
      const listed = await gw.graphql<{ orders: { totalCount: number } }>('{ orders(first: 1) { totalCount } }');
      expect((listed.body.extensions?.stalled as Record<string, Record<string, string>> | undefined)?.[topic]).toHaveProperty('0');
      for (const row of after) expect((await gw.query<{ order: unknown }>(`{ order(orderId: "${row.orderId}") { orderId } }`)).order).toBeNull();

      // Partition 1 goes on meanwhile.
      const other = keysOn(1, 3, 3000);
      await fx.produce(
        'orders',
        other.map((row) => keyed('orderId', row)),
      );
      await waitFor(async () => (await gw.query<{ order: unknown }>(`{ order(orderId: "${other[2]!.orderId}") { orderId } }`)).order !== null, {
        what: 'partition 1 applied while partition 0 waits',
      });
      expect(gw.gateway.ingestor.stalled().map((entry) => entry.partition)).toEqual([0]);

      // The topic takes writes again: partition 0 resumes, the bad record is dead-lettered, nothing is lost.
      await kafkaAdmin.alterConfigs({
        validateOnly: false,
        resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: dlq, configEntries: [{ name: 'max.message.bytes', value: String(1 << 20) }] }],
      });
      await fx.waitCaughtUp(gw, ['orders']);
      for (const row of [...before, ...after])
        expect((await gw.query<{ order: unknown }>(`{ order(orderId: "${row.orderId}") { orderId } }`)).order).not.toBeNull();
      expect(gw.gateway.ingestor.stalled()).toEqual([]);
      expect(gw.gateway.ingestor.counters.deadLettered).toBe(1);
      const letters = await readTopic(dlq, 1);
      expect(letters.length).toBe(1);
      expect(JSON.parse(letters[0]!.value).code).toBe('GW_RECORD_MALFORMED');
      await waitFor(async () => (await fetch(`${gw.url}/readyz`)).status === 200, { what: '/readyz 200 again' });
    }
  });
});

describe('records of a librdkafka producer (kcat) with KAFKA_PARTITIONER=crc32', () => {
  const fx = useFixture('kcat-crc');

  it('applies them and routes lookups by the same partitioner', async () => {
    const gw = await fx.startGateway({ env: { TOPIC_PARTITIONS: '6', KAFKA_PARTITIONER: 'consistent_random' } });
    const rows = Array.from({ length: 40 }, (_, i) => order(8000 + i));
    await produceWithKcat(fx.topic('orders'), rows);
    await fx.waitCaughtUp(gw, ['orders']);
    expect(gw.gateway.ingestor.counters.deadLettered).toBe(0);
    expect((await gw.query<{ orders: { totalCount: number } }>('{ orders(first: 1) { totalCount } }')).orders.totalCount).toBe(rows.length);
    // Lookups find each row on the partition the crc32 partitioner names.
    for (const row of rows) {
      expect((await gw.query<{ order: { orderId: string } | null }>(`{ order(orderId: "${row.orderId}") { orderId } }`)).order).toEqual({
        orderId: row.orderId,
      });
    }
  });
});

describe('records of a librdkafka producer (kcat) with the default partitioner (murmur2)', () => {
  const fx = useFixture('kcat');

  it('dead-letters those on another partition than murmur2 names', async () => {
    const gw = await fx.startGateway({ env: { TOPIC_PARTITIONS: '6' } });
    const topic = fx.topic('orders');
    const rows = Array.from({ length: 40 }, (_, i) => order(7000 + i));
    await produceWithKcat(topic, rows);
    await fx.waitCaughtUp(gw, ['orders']);
    // librdkafka's consistent_random is CRC-32 of the key: where it and murmur2 agree the row is applied.
    const agree = rows.filter((row) => crc32Partition(row.orderId, 6) === partitionForKey(row.orderId, 6));
    expect(agree.length).toBeLessThan(rows.length);
    const total = (await gw.query<{ orders: { totalCount: number } }>('{ orders(first: 1) { totalCount } }')).orders.totalCount;
    expect(total).toBe(agree.length);
    expect(gw.gateway.ingestor.counters.deadLetteredByCode.GW_RECORD_WRONG_PARTITION).toBe(rows.length - agree.length);
    // And kcat placed each record where crc32Partition says.
    const { stdout } = await run('kcat', ['-C', '-b', brokers(), '-t', topic, '-e', '-f', '%k %p\\n', '-q']);
    const placed = stdout
      .trim()
      .split('\n')
      .map((line) => line.split(' '));
    expect(placed.length).toBe(rows.length);
    for (const [key, partition] of placed) expect(Number(partition)).toBe(crc32Partition(key!, 6));
  });
});

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLocalReads } from '../../src/query/local-reads.ts';
import { openKeyValueStore, type KeyValueStore } from '../../src/store/rocks.ts';
import { openViewStore, type ViewStore } from '../../src/store/view-store.ts';
import { compileViews } from '../../src/views/model.ts';
import customers from '../../views/customers.ts';
import orders from '../../views/orders.ts';
import payments from '../../views/payments.ts';

const views = compileViews([orders, customers, payments]);
let kv: KeyValueStore | undefined;
let directory: string | undefined;

afterEach(async () => {
  await kv?.close();
  if (directory) await rm(directory, { recursive: true, force: true });
  kv = undefined;
  directory = undefined;
});

const payment = (paymentId: string, orderId: string, minute: number) => ({
  key: paymentId,
  row: {
    paymentId,
    orderId,
    amount: 1,
    currency: 'EUR',
    method: 'CARD',
    status: 'CAPTURED',
    createdAt: `2026-01-01T00:${String(minute).padStart(2, '0')}:00.000Z`,
    updatedAt: `2026-01-01T00:${String(minute).padStart(2, '0')}:00.000Z`,
  },
});

describe('relation lists of local reads', () => {
  it('keys that are property names of Object.prototype are lists like any other, locally and as a peer sends them', async () => {
    directory = await mkdtemp(path.join(os.tmpdir(), 'gw-local-reads-'));
    kv = await openKeyValueStore(directory);
    const stores = new Map<string, ViewStore>();
    for (const view of views) stores.set(view.id, await openViewStore(kv, view));
    const orderIds = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'ord-1'];
    // Two partitions, so a value's list is merged across them; ord-1 has three payments.
    stores.get('payments')!.apply(0, [payment('p-1', '__proto__', 3), payment('p-2', 'constructor', 1), payment('p-3', 'ord-1', 5)], '3');
    stores.get('payments')!.apply(1, [payment('p-4', 'ord-1', 2), payment('p-5', 'ord-1', 9), payment('p-6', 'toString', 4)], '3');
    const local = createLocalReads(stores);
    const found = local.related('payments', [0, 1], 'orderId', orderIds, 2);
    const ids = (value: string) => found.get(value)?.map((entry) => entry.key);
    expect(ids('__proto__')).toEqual(['p-1']);
    expect(ids('constructor')).toEqual(['p-2']);
    expect(ids('toString')).toEqual(['p-6']);
    expect(ids('hasOwnProperty')).toEqual([]);
    // Oldest first, cut to the limit across both partitions.
    expect(ids('ord-1')).toEqual(['p-4', 'p-3']);
    // A peer answers the same lists as a JSON object: every value an own property.
    const sent = JSON.parse(JSON.stringify(Object.fromEntries(found))) as Record<string, Array<{ key: string }>>;
    expect(Object.keys(sent).sort()).toEqual([...orderIds].sort());
    expect(Object.getPrototypeOf(sent)).toBe(Object.prototype);
    expect(new Map(Object.entries(sent)).get('__proto__')?.map((entry) => entry.key)).toEqual(['p-1']);
  });
});

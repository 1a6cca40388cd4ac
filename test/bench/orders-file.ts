/**
 * The bench's orders file (one order object per line, as the gateway answers `order(orderId)`)
 * read line by line into a Map by order id: the in-memory data of the lookup baselines
 * (baseline-server.ts, http-floor.ts). The file holds up to millions of lines.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

export async function loadOrders(file: string): Promise<Map<string, Record<string, unknown>>> {
  const orders = new Map<string, Record<string, unknown>>();
  const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    if (line === '') continue;
    const row = JSON.parse(line) as Record<string, unknown>;
    orders.set(String(row.orderId), row);
  }
  return orders;
}

/**
 * The floor of a lookup over HTTP in Node: the least any Node server does per request of the
 * bench's lookup figure. It reads the POST body, parses its JSON, takes the id from the
 * variables, finds the order in a Map and writes `{"data":{"order":{...}}}` with the order's
 * fields, through `node:http` with keep-alive: no GraphQL, no store, no checks. Run on one thread,
 * or on several (`HTTP_FLOOR_THREADS`), each a worker thread with its own listener on the same
 * port (`reusePort`: the kernel spreads connections over them) and its own copy of the Map.
 *
 *   HTTP_FLOOR_THREADS=1 node test/bench/http-floor.ts <orders.ndjson> [port]
 *
 * The input is the bench's orders file (one order object per line, orders-file.ts). Listens
 * on 127.0.0.1 and prints `FLOOR_URL=http://127.0.0.1:<port>` once every thread listens. What it
 * answers per second against the gateway and stock yoga in the same minute says how much of a
 * lookup is Node's HTTP and what more threads can give on this machine: `npm run bench` measures
 * it beside them (BENCHMARKS.md, "HTTP in more threads, and what Node's HTTP leaves").
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { loadOrders } from './orders-file.ts';

interface Settings {
  readonly file: string;
  readonly port: number;
}

async function serve(settings: Settings, reusePort: boolean): Promise<number> {
  const orders = await loadOrders(settings.file);
  const server = createServer((request, response) => {
    if (request.method === 'GET' && request.url === '/health') {
      response.end('ok');
      return;
    }
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      let order: Record<string, unknown> | null = null;
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { variables?: { id?: unknown } };
        order = orders.get(String(body.variables?.id)) ?? null;
      } catch {
        response.writeHead(400).end();
        return;
      }
      const text = JSON.stringify({ data: { order } });
      response.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
      response.end(text);
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: settings.port, host: '127.0.0.1', reusePort }, () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

async function main(): Promise<void> {
  if (!isMainThread) {
    await serve(workerData as Settings, true);
    parentPort!.postMessage('listening');
    return;
  }
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: HTTP_FLOOR_THREADS=1 node test/bench/http-floor.ts <orders.ndjson> [port]\n');
    process.exit(2);
  }
  const threads = Math.max(1, Number(process.env.HTTP_FLOOR_THREADS ?? 1));
  // Several listeners on one port need a port known before they listen.
  const port = Number(process.argv[3] ?? (threads > 1 ? 4190 : 0));
  const bound = await serve({ file, port }, threads > 1);
  for (let i = 1; i < threads; i++) {
    const worker = new Worker(new URL(import.meta.url), { workerData: { file, port: bound } satisfies Settings });
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
    });
  }
  process.stdout.write(`FLOOR_URL=http://127.0.0.1:${bound}\n`);
  const stop = (): void => process.exit(0);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`http floor failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});

/**
 * Baseline for the lookup figure: a stock graphql-yoga server with a hand-written SDL subset
 * (`order(orderId: ID!): Order` with the same fields and types as the gateway's `Order`, minus
 * relations), resolving from an in-memory Map. It is what "a GraphQL server over data already in
 * memory" costs on this machine, so the gateway's lookup is compared with it in the same run.
 *
 *   node test/bench/baseline-server.ts <orders.ndjson>
 *
 * <orders.ndjson> holds one order object per line (the whole data set in the bench: up to
 * millions of lines, read line by line). Listens on 127.0.0.1 on a free port and prints
 * `BASELINE_URL=http://127.0.0.1:<port>` on stdout; GraphQL at /graphql, health at /health.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSchema, createYoga } from 'graphql-yoga';
import { loadOrders } from './orders-file.ts';

const typeDefs = /* GraphQL */ `
  scalar DateTime

  enum OrderState {
    CREATED
    VALIDATED
    FAILED
    SHIPPED
    CANCELLED
  }

  type Order {
    orderId: ID!
    customerId: ID!
    state: OrderState!
    product: String!
    quantity: Int!
    unitPrice: Float!
    currency: String!
    createdAt: DateTime!
    updatedAt: DateTime!
  }

  type Query {
    order(orderId: ID!): Order
  }
`;

async function main(): Promise<void> {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node test/bench/baseline-server.ts <orders.ndjson>\n');
    process.exit(2);
  }
  const started = performance.now();
  const orders = await loadOrders(file);
  const yoga = createYoga({
    schema: createSchema({
      typeDefs,
      resolvers: {
        Query: {
          order: (_parent: unknown, args: { orderId: string }) => orders.get(args.orderId) ?? null,
        },
      },
    }),
    graphqlEndpoint: '/graphql',
    landingPage: false,
    graphiql: false,
    logging: false,
  });
  const server = createServer(yoga);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`BASELINE_URL=http://127.0.0.1:${port}\n`);
  process.stderr.write(`baseline server: ${orders.size} orders in memory, loaded in ${Math.round(performance.now() - started)} ms\n`);
  const stop = (): void => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`baseline server failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});

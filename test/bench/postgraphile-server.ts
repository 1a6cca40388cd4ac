/**
 * Baseline for the grid and lookup figures: PostGraphile v5 over the bench's PostgreSQL copy of
 * the data (test/bench/postgres.ts), as one would deploy it for reads:
 *
 *   node test/bench/postgraphile-server.ts <postgres-url> [pool-size]
 *
 * - the amber preset (PostGraphile's recommended defaults): `allOrders` connections with
 *   `condition` (equality on columns, which the grid's state/currency filters are) and `orderBy`,
 *   `orderByOrderId` lookups, relations from the foreign keys (`customerByCustomerId`,
 *   `paymentsByOrderId`), totalCount;
 * - PgIndexBehaviorsPlugin disabled: it hides condition/orderBy on columns that do not lead an
 *   index, and created_at/updated_at only appear after state/currency in the grid's indexes;
 * - grafserv on node:http, POST /graphql only: no GraphiQL, no watch mode, no websockets, the
 *   default parse/validate cache (500 documents) and request size limit, Grafast in production
 *   mode (GRAPHILE_ENV=production, no plan explain);
 * - a pg pool of `pool-size` connections (default 8: PostgreSQL and this process share 2 cores,
 *   and more backends than a few per core only queue inside PostgreSQL).
 *
 * Type-checked on its own (test/bench/tsconfig.postgraphile.json): Grafast's typings augment
 * graphql-js's ExecutionResult globally, which would change the gateway's types if this file were
 * part of the main program.
 *
 * Listens on 127.0.0.1 on a free port and prints `POSTGRAPHILE_URL=http://127.0.0.1:<port>` on
 * stdout once the schema is built; GraphQL at /graphql.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { postgraphile } from 'postgraphile';
import { makePgService } from 'postgraphile/adaptors/pg';
import { grafserv } from 'postgraphile/grafserv/node';
import { PostGraphileAmberPreset } from 'postgraphile/presets/amber';

async function main(): Promise<void> {
  const connectionString = process.argv[2];
  const poolSize = Number(process.argv[3] ?? 8);
  if (!connectionString || !Number.isInteger(poolSize) || poolSize < 1) {
    process.stderr.write('usage: node test/bench/postgraphile-server.ts <postgres-url> [pool-size]\n');
    process.exit(2);
  }
  const pool = new pg.Pool({ connectionString, max: poolSize, idleTimeoutMillis: 0 });
  const preset: GraphileConfig.Preset = {
    extends: [PostGraphileAmberPreset],
    disablePlugins: ['PgIndexBehaviorsPlugin'],
    pgServices: [makePgService({ pool, schemas: ['public'] })],
    grafserv: { graphqlPath: '/graphql', graphiql: false, watch: false, websockets: false },
    grafast: { explain: false },
  };
  const instance = postgraphile(preset);
  const serv = instance.createServ(grafserv);
  await instance.getSchema();
  const server = createServer();
  server.keepAliveTimeout = 65_000;
  serv.addTo(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`POSTGRAPHILE_URL=http://127.0.0.1:${port}\n`);
  process.stderr.write(`postgraphile server: pool of ${poolSize}\n`);
  const stop = (): void => {
    server.close(() => {
      void Promise.resolve(instance.release()).finally(() => process.exit(0));
    });
    server.closeAllConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`postgraphile server failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});

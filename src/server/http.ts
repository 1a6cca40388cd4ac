/**
 * HTTP front: GraphQL (and GraphiQL) at /graphql through graphql-yoga, plus plain /healthz,
 * /readyz and /metrics. Yoga plugins, in request order: validation limits, freshness report in
 * `extensions`, and error mapping (registry codes pass through, anything else is masked).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { useGraphQlJit } from '@envelop/graphql-jit';
import { getOperationAST, type GraphQLSchema } from 'graphql';
import { createYoga, type Plugin } from 'graphql-yoga';
import { createContext, type GraphQLContext } from '../graphql/context.ts';
import { depthLimitRule, rootFieldLimitRule } from '../graphql/limits.ts';
import type { Logger } from '../log.ts';
import type { Hub } from '../subscriptions/hub.ts';
import { toClientError } from './client-errors.ts';
import { attachWebSocket } from './websocket.ts';
import { decodeToken, encodeToken } from '../routing/consistency.ts';
import type { ViewReader } from '../routing/reader.ts';

/** Request header carrying a consistency token (alternative: request `extensions.consistencyToken`). */
export const CONSISTENCY_HEADER = 'x-gw-consistency';

export interface Readiness {
  readonly ready: boolean;
  readonly detail: Record<string, unknown>;
}

export interface HttpServerOptions {
  readonly schema: GraphQLSchema;
  readonly reader: ViewReader;
  readonly host: string;
  readonly port: number;
  readonly maxQueryDepth: number;
  readonly readiness: () => Readiness;
  /** Liveness: a reason when the instance cannot recover by itself (it should be restarted). */
  readonly unhealthy?: () => string | undefined;
  readonly metrics: () => string;
  readonly logger: Logger;
  readonly exampleQuery?: string;
  /** Where subscriptions are served (WebSocket and SSE); none without it. */
  readonly subscriptions?: { hub: Hub; maxPerConnection: number };
  /** Handles the internal peer protocol path (see src/routing/PROTOCOL.md). */
  readonly peer?: { path: string; handle: (request: IncomingMessage, response: ServerResponse) => Promise<void> };
}

export interface HttpServer {
  readonly url: string;
  readonly server: Server;
  stop(): Promise<void>;
}

const MAX_ROOT_FIELDS = 50;
const MAX_BODY_BYTES = 256 * 1024;

function freshnessPlugin(): Plugin<GraphQLContext> {
  return {
    onExecute() {
      return {
        onExecuteDone({ args, result, setResult }) {
          if (!result || Symbol.asyncIterator in result) return;
          const context = args.contextValue as GraphQLContext;
          setResult({
            ...result,
            extensions: { ...result.extensions, freshness: context.freshness, consistencyToken: encodeToken(context.freshness) },
          });
        },
      };
    },
  };
}

function limitsPlugin(maxDepth: number): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(depthLimitRule(maxDepth));
      addValidationRule(rootFieldLimitRule(MAX_ROOT_FIELDS));
    },
  };
}

export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const { logger } = options;
  const yoga = createYoga<Record<string, unknown>, GraphQLContext>({
    schema: options.schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    healthCheckEndpoint: '/yoga-health',
    logging: false,
    batching: false,
    graphiql: { title: 'Kafka GraphQL gateway', defaultQuery: options.exampleQuery ?? '' },
    context: ({ request, params }) => {
      const token = request.headers.get(CONSISTENCY_HEADER) ?? (params.extensions?.consistencyToken as string | undefined);
      return createContext(options.reader, token ? decodeToken(String(token)) : undefined, options.subscriptions?.hub);
    },
    plugins: [
      limitsPlugin(options.maxQueryDepth),
      // Queries run as compiled JavaScript (graphql-jit), compiled once per parsed document (the
      // parser cache hands back the same document for the same text). Subscriptions keep
      // graphql-js's executor, the same one the WebSocket endpoint uses.
      useGraphQlJit({}, { enableIf: (args) => getOperationAST(args.document, args.operationName)?.operation === 'query' }),
      freshnessPlugin(),
    ],
    maskedErrors: { maskError: (error, message) => toClientError(error, logger, message) },
  });

  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      const problem = options.unhealthy?.();
      response
        .writeHead(problem ? 503 : 200, { 'content-type': 'application/json' })
        .end(JSON.stringify(problem ? { status: 'failed', reason: problem } : { status: 'ok' }));
      return;
    }
    if (path === '/readyz') {
      const readiness = options.readiness();
      response
        .writeHead(readiness.ready ? 200 : 503, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: readiness.ready ? 'ready' : 'not ready', ...readiness.detail }));
      return;
    }
    if (options.peer && path === options.peer.path && request.method === 'POST') {
      options.peer.handle(request, response).catch((error: unknown) => {
        logger.error('peer handler failed', { error });
        if (!response.headersSent) response.writeHead(500).end();
      });
      return;
    }
    if (path === '/metrics') {
      response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(options.metrics());
      return;
    }
    const length = Number(request.headers['content-length'] ?? 0);
    if (length > MAX_BODY_BYTES) {
      response.writeHead(413, { 'content-type': 'application/json' }).end(
        JSON.stringify({ errors: [{ message: `request body exceeds ${MAX_BODY_BYTES} bytes`, extensions: { code: 'GW_QUERY_TOO_COMPLEX' } }] }),
      );
      return;
    }
    void yoga(request, response);
  });
  server.keepAliveTimeout = 65_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const websocket = options.subscriptions
    ? attachWebSocket({
        server,
        schema: options.schema,
        reader: options.reader,
        hub: options.subscriptions.hub,
        maxQueryDepth: options.maxQueryDepth,
        maxSubscriptionsPerConnection: options.subscriptions.maxPerConnection,
        logger,
      })
    : undefined;
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  logger.info('http listening', { url: `${url}/graphql` });
  return {
    url,
    server,
    async stop() {
      await websocket?.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

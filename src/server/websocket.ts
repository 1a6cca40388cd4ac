/**
 * GraphQL over WebSocket (the graphql-ws protocol) on the HTTP server's port, at /graphql.
 * The protocol's own rules and close codes come from graphql-ws (init timeout 4408, second init
 * 4429, subscribe before ack 4401, duplicate id 4409, malformed message 4400). This module adds
 * the gateway's: the same validation limits as HTTP, a subscription limit per connection, error
 * codes in `extensions`, and a fresh context (DataLoaders) per subscription.
 *
 * Documents: `onSubscribe` takes each query's parsed and validated document from a cache shared by
 * all connections (src/server/document-cache.ts), so subscriptions of the same text share one
 * frozen document and validation runs once per text. It returns graphql-ws the execution
 * arguments without `contextValue` and `rootValue`, so graphql-ws still makes the context per
 * subscription; variables are coerced per subscription when graphql-js executes.
 *
 * Backpressure: graphql-ws waits for each message to be written before pulling the next event,
 * so a slow client stops pulling; its bounded stream in the hub then overflows and it is cut off
 * with a resume token (see src/subscriptions/stream.ts). Nobody else waits for it.
 */
import type { Server } from 'node:http';
import { GraphQLError, specifiedRules, type GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { createContext } from '../graphql/context.ts';
import { checkCost } from '../graphql/cost.ts';
import { checkShape, limitedParse } from '../graphql/limits.ts';
import type { Logger } from '../log.ts';
import type { ViewReader } from '../routing/reader.ts';
import type { Hub } from '../subscriptions/hub.ts';
import { onExpiry, type ClientAuth } from './client-auth.ts';
import { isGraphQLError, toClientError } from './client-errors.ts';
import { createDocumentCache } from './document-cache.ts';
import type { QueryLimitsOptions } from './query-limits.ts';

export interface WebSocketOptions {
  readonly server: Server;
  readonly schema: GraphQLSchema;
  readonly reader: ViewReader;
  readonly hub: Hub;
  readonly queryLimits: QueryLimitsOptions;
  readonly maxSubscriptionsPerConnection: number;
  readonly logger: Logger;
  readonly clientAuth?: ClientAuth | undefined;
}

export interface WebSocketEndpoint {
  readonly connections: number;
  stop(): Promise<void>;
}

export function attachWebSocket(options: WebSocketOptions): WebSocketEndpoint {
  const wss = new WebSocketServer({ server: options.server, path: '/graphql', maxPayload: 256 * 1024 });
  const active = new WeakMap<object, Set<string>>();
  const limits = options.queryLimits;
  const documents = createDocumentCache({
    schema: options.schema,
    rules: specifiedRules,
    parse: limitedParse(limits.maxTokens),
    precheck: (document) => checkShape(document, limits),
  });
  const disposable = useServer(
    {
      connectionInitWaitTimeout: 3_000,
      // With client authentication, the token comes in connection_init's payload (browsers cannot
      // set WebSocket headers) or the upgrade request's Authorization header. false closes the
      // socket with 4403 Forbidden before any subscription starts; an accepted socket is closed
      // with 4403 when its token expires.
      onConnect: (ctx) => {
        if (!options.clientAuth) return true;
        const fromPayload = ctx.connectionParams?.authorization;
        try {
          const identity = options.clientAuth.verify(typeof fromPayload === 'string' ? fromPayload : ctx.extra.request.headers.authorization);
          const socket = ctx.extra.socket;
          const cancel = onExpiry(identity, () => {
            options.logger.debug('websocket closed: client token expired');
            socket.close(4403, 'Forbidden: the token has expired');
          });
          socket.once('close', cancel);
          return true;
        } catch (error) {
          options.logger.debug('websocket client refused', { error });
          return false;
        }
      },
      context: () => createContext(options.reader, undefined, options.hub),
      // Returns either errors (sent as the subscription's `error` message, as graphql-ws does
      // with its own validation) or execution arguments. A syntax error is thrown, as graphql-ws's
      // own parse throws it.
      onSubscribe: (ctx, id, payload) => {
        const ids = active.get(ctx) ?? new Set<string>();
        active.set(ctx, ids);
        if (ids.size >= options.maxSubscriptionsPerConnection) {
          return [
            new GraphQLError(`a connection may hold at most ${options.maxSubscriptionsPerConnection} subscriptions`, {
              extensions: { code: 'GW_SUBSCRIPTION_LIMIT', retriable: true },
            }),
          ];
        }
        let loaded: ReturnType<typeof documents.load>;
        try {
          loaded = documents.load(payload.query);
        } catch (error) {
          // A syntax error or a refused document fails this operation only, not the socket.
          if (isGraphQLError(error)) return [error];
          throw error;
        }
        const { document, errors } = loaded;
        // Counted only once valid: graphql-ws calls onComplete for started operations only, so a
        // rejected subscribe must not take a slot.
        if (errors.length > 0) return errors;
        const tooCostly = checkCost(options.schema, document, payload.operationName, payload.variables, limits);
        if (tooCostly) return [tooCostly];
        ids.add(id);
        return { schema: options.schema, document, variableValues: payload.variables, operationName: payload.operationName };
      },
      onComplete: (ctx, id) => {
        active.get(ctx)?.delete(id);
      },
      onNext: (_ctx, _id, _payload, _args, result) => {
        if (!result.errors) return undefined;
        return { ...result, errors: result.errors.map((error) => toClientError(error, options.logger).toJSON()) };
      },
      onError: (_ctx, _id, _payload, errors) => errors.map((error) => toClientError(error, options.logger).toJSON()),
    },
    wss,
  );
  return {
    get connections() {
      return wss.clients.size;
    },
    async stop() {
      await disposable.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

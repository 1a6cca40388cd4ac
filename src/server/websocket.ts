/**
 * GraphQL over WebSocket (the graphql-ws protocol) on the HTTP server's port, at /graphql.
 * The protocol's own rules and close codes come from graphql-ws (init timeout 4408, second init
 * 4429, subscribe before ack 4401, duplicate id 4409, malformed message 4400). This module adds
 * the gateway's: the same validation limits as HTTP, a subscription limit per connection, error
 * codes in `extensions`, and a fresh context (DataLoaders) per subscription.
 *
 * Backpressure: graphql-ws waits for each message to be written before pulling the next event,
 * so a slow client stops pulling; its bounded stream in the hub then overflows and it is cut off
 * with a resume token (see src/subscriptions/stream.ts). Nobody else waits for it.
 */
import type { Server } from 'node:http';
import { GraphQLError, specifiedRules, validate, type GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { createContext } from '../graphql/context.ts';
import { depthLimitRule, rootFieldLimitRule } from '../graphql/limits.ts';
import type { Logger } from '../log.ts';
import type { ViewReader } from '../routing/reader.ts';
import type { Hub } from '../subscriptions/hub.ts';
import { toClientError } from './client-errors.ts';

export interface WebSocketOptions {
  readonly server: Server;
  readonly schema: GraphQLSchema;
  readonly reader: ViewReader;
  readonly hub: Hub;
  readonly maxQueryDepth: number;
  readonly maxSubscriptionsPerConnection: number;
  readonly logger: Logger;
}

export interface WebSocketEndpoint {
  readonly connections: number;
  stop(): Promise<void>;
}

const MAX_ROOT_FIELDS = 50;

export function attachWebSocket(options: WebSocketOptions): WebSocketEndpoint {
  const wss = new WebSocketServer({ server: options.server, path: '/graphql', maxPayload: 256 * 1024 });
  const active = new WeakMap<object, Set<string>>();
  const rules = [...specifiedRules, depthLimitRule(options.maxQueryDepth), rootFieldLimitRule(MAX_ROOT_FIELDS)];
  const disposable = useServer(
    {
      schema: options.schema,
      connectionInitWaitTimeout: 3_000,
      context: () => createContext(options.reader, undefined, options.hub),
      validate: (schema, document) => validate(schema, document, rules),
      onSubscribe: (ctx, id) => {
        const ids = active.get(ctx) ?? new Set<string>();
        active.set(ctx, ids);
        if (ids.size >= options.maxSubscriptionsPerConnection) {
          return [
            new GraphQLError(`a connection may hold at most ${options.maxSubscriptionsPerConnection} subscriptions`, {
              extensions: { code: 'GW_SUBSCRIPTION_LIMIT', retriable: true },
            }),
          ];
        }
        ids.add(id);
        return undefined;
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

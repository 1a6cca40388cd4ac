/**
 * GraphQL over WebSocket (the graphql-ws protocol) on the HTTP server's port, at /graphql.
 * The protocol's own rules and close codes come from graphql-ws (init timeout 4408, second init
 * 4429, subscribe before ack 4401, duplicate id 4409, malformed message 4400). This module adds
 * the gateway's: the same validation limits as HTTP, a subscription limit per connection, error
 * codes in `extensions`, and a fresh context (DataLoaders) per subscription.
 *
 * A subscribe that cannot be prepared (a syntax error, a validation error, the connection's
 * subscription limit, or any error thrown while preparing it) fails that one operation with an
 * `error` message whose GraphQL errors carry `extensions.code` (`GRAPHQL_PARSE_FAILED` for a
 * syntax error, as over HTTP); the socket and its other subscriptions stay open.
 *
 * Cross-site WebSocket hijacking: browsers send `Origin` on the upgrade and CORS does not apply
 * to WebSockets, so an upgrade whose `Origin` is neither this server's own (the `Host` it was
 * sent to) nor listed in CORS_ORIGINS is refused with 403. Clients that send no `Origin` (not
 * browsers) are not affected.
 *
 * Documents: `onSubscribe` takes each query's parsed and validated document from a cache shared by
 * all connections (src/server/document-cache.ts), so subscriptions of the same text share one
 * frozen document and validation runs once per text. It returns graphql-ws the execution
 * arguments without `contextValue` and `rootValue`, so graphql-ws still makes the context per
 * subscription; variables are coerced per subscription when graphql-js executes.
 *
 * Security switches: with client authentication the socket's token claims become each
 * subscription's `context.claims`; with a rate limit (./rate-limit.ts) an upgrade is refused with
 * 429 and `Retry-After` by the client's address (without client authentication), a
 * `connection_init` is closed with 1013 (try again later) by the token's subject (with it), and a
 * subscribe over the limit fails alone with GW_RATE_LIMITED; with trusted documents a subscribe
 * names its document by id (./trusted-documents.ts); with INTROSPECTION=false the same rule and
 * suggestion filter as over HTTP apply (./introspection.ts). A key set that cannot be fetched
 * (GW_AUTH_UNAVAILABLE) closes the socket with 1013 too, not 4403.
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
import { isGatewayError } from '../errors.ts';
import { onExpiry, type ClientAuth } from './client-auth.ts';
import { isGraphQLError, toClientError } from './client-errors.ts';
import { createDocumentCache } from './document-cache.ts';
import { NoIntrospectionRule, withoutSuggestions } from './introspection.ts';
import type { QueryLimitsOptions } from './query-limits.ts';
import { clientKey, rateLimitError, retryAfterSeconds, type RateLimiter } from './rate-limit.ts';
import { trustedSubscribeText, type SubscribePayload, type TrustedDocuments } from './trusted-documents.ts';

export interface WebSocketOptions {
  readonly server: Server;
  readonly schema: GraphQLSchema;
  readonly reader: ViewReader;
  readonly hub: Hub;
  readonly queryLimits: QueryLimitsOptions;
  readonly maxSubscriptionsPerConnection: number;
  readonly logger: Logger;
  readonly clientAuth?: ClientAuth | undefined;
  /** Origins besides this server's own whose pages may open a WebSocket (CORS_ORIGINS). */
  readonly corsOrigins?: readonly string[];
  readonly trustedDocuments?: TrustedDocuments | undefined;
  readonly rateLimit?: RateLimiter | undefined;
  /** false: INTROSPECTION=false (see ./introspection.ts). */
  readonly introspection?: boolean | undefined;
}

/** What a connection holds once accepted: its token's claims and its rate-limit key. */
interface ConnectionState {
  claims: Readonly<Record<string, unknown>> | undefined;
  key: string;
}

/** A close reason within the protocol's 123 bytes. */
function closeReason(text: string): string {
  return Buffer.byteLength(text) <= 123 ? text : `${Buffer.from(text).subarray(0, 120).toString('utf8')}...`;
}

export interface WebSocketEndpoint {
  readonly connections: number;
  stop(): Promise<void>;
}

/** Whether an upgrade's `Origin` may open a socket: none sent, this server's own, or listed. */
function originAllowed(origin: string | undefined, host: string | undefined, listed: ReadonlySet<string>): boolean {
  if (origin === undefined) return true;
  if (listed.has(origin)) return true;
  try {
    return host !== undefined && new URL(origin).host === host.toLowerCase();
  } catch {
    return false; // "null" (sandboxed pages, files) and anything else that is not a URL
  }
}

/** What a subscribe that threw while being prepared answers: a GraphQL error with a code. */
function preparationError(error: unknown, logger: Logger): GraphQLError {
  if (isGraphQLError(error) && error.extensions.code === undefined) {
    // graphql-js's syntax error, the only GraphQL error thrown while preparing.
    return new GraphQLError(error.message, {
      source: error.source,
      positions: error.positions,
      extensions: { ...error.extensions, code: 'GRAPHQL_PARSE_FAILED' },
    });
  }
  return toClientError(error, logger);
}

export function attachWebSocket(options: WebSocketOptions): WebSocketEndpoint {
  const listed = new Set(options.corsOrigins ?? []);
  const { rateLimit, trustedDocuments } = options;
  const hideSuggestions = options.introspection === false;
  const wss = new WebSocketServer({
    server: options.server,
    path: '/graphql',
    maxPayload: 256 * 1024,
    verifyClient: (
      { origin, req }: { origin: string | undefined; req: { headers: { host?: string }; socket: { remoteAddress?: string | undefined } } },
      done: (allowed: boolean, status?: number, message?: string, headers?: Record<string, string>) => void,
    ) => {
      if (!originAllowed(origin, req.headers.host, listed)) return done(false, 403, 'Forbidden: cross-origin WebSocket');
      // Without client authentication a connection attempt counts against the client's address;
      // with it, against the token's subject once connection_init brings the token.
      const wait = rateLimit && !options.clientAuth ? rateLimit.take(clientKey(undefined, req.socket.remoteAddress)) : undefined;
      if (wait !== undefined) return done(false, 429, 'Too Many Requests', { 'Retry-After': String(retryAfterSeconds(wait)) });
      return done(true);
    },
  });
  const active = new WeakMap<object, Set<string>>();
  const connections = new WeakMap<object, ConnectionState>();
  const limits = options.queryLimits;
  const documents = createDocumentCache({
    schema: options.schema,
    rules: hideSuggestions ? [...specifiedRules, NoIntrospectionRule] : specifiedRules,
    parse: limitedParse(limits.maxTokens),
    precheck: (document) => checkShape(document, limits),
  });
  const clientError = (error: unknown): GraphQLError => {
    const mapped = toClientError(error, options.logger);
    return hideSuggestions ? withoutSuggestions(mapped) : mapped;
  };
  const disposable = useServer(
    {
      connectionInitWaitTimeout: 3_000,
      // With client authentication, the token comes in connection_init's payload (browsers cannot
      // set WebSocket headers) or the upgrade request's Authorization header. false closes the
      // socket with 4403 Forbidden before any subscription starts; an accepted socket is closed
      // with 4403 when its token expires.
      onConnect: async (ctx) => {
        const address = ctx.extra.request.socket.remoteAddress;
        if (!options.clientAuth) {
          connections.set(ctx, { claims: undefined, key: clientKey(undefined, address) });
          return true;
        }
        const fromPayload = ctx.connectionParams?.authorization;
        const socket = ctx.extra.socket;
        let identity: Awaited<ReturnType<ClientAuth['verify']>>;
        try {
          identity = await options.clientAuth.verify(typeof fromPayload === 'string' ? fromPayload : ctx.extra.request.headers.authorization);
        } catch (error) {
          options.logger.debug('websocket client refused', { error });
          // The key set could not be fetched: the token was not checked, so try again later.
          if (isGatewayError(error) && error.code === 'GW_AUTH_UNAVAILABLE') {
            options.logger.warn('client token not checked: the key set is unavailable', { error });
            socket.close(1013, closeReason(`${error.code}: try again later`));
          }
          return false;
        }
        const key = clientKey(identity.subject, address);
        const wait = rateLimit?.take(key);
        if (wait !== undefined) {
          socket.close(1013, closeReason(`GW_RATE_LIMITED: retry after ${retryAfterSeconds(wait)} s`));
          return false;
        }
        const cancel = onExpiry(identity, () => {
          options.logger.debug('websocket closed: client token expired');
          socket.close(4403, 'Forbidden: the token has expired');
        });
        socket.once('close', cancel);
        connections.set(ctx, { claims: identity.claims, key });
        return true;
      },
      context: (ctx) => createContext(options.reader, undefined, options.hub, connections.get(ctx)?.claims),
      // Returns either errors (sent as the subscription's `error` message, as graphql-ws does
      // with its own validation) or execution arguments. Nothing is thrown: graphql-ws would close
      // the whole socket (4500) for an error thrown here.
      onSubscribe: (ctx, id, payload) => {
        try {
          const ids = active.get(ctx) ?? new Set<string>();
          active.set(ctx, ids);
          if (ids.size >= options.maxSubscriptionsPerConnection) {
            return [
              new GraphQLError(`a connection may hold at most ${options.maxSubscriptionsPerConnection} subscriptions`, {
                extensions: { code: 'GW_SUBSCRIPTION_LIMIT', retriable: true },
              }),
            ];
          }
          if (rateLimit) {
            const wait = rateLimit.take(connections.get(ctx)?.key ?? clientKey(undefined, ctx.extra.request.socket.remoteAddress));
            if (wait !== undefined) return [toClientError(rateLimitError(wait), options.logger)];
          }
          let text = payload.query;
          if (trustedDocuments) {
            const trusted = trustedSubscribeText(trustedDocuments, payload as SubscribePayload);
            if (typeof trusted !== 'string') return [trusted];
            text = trusted;
          }
          const { document, errors } = documents.load(text);
          // Counted only once valid: graphql-ws calls onComplete for started operations only, so a
          // rejected subscribe must not take a slot.
          if (errors.length > 0) return hideSuggestions ? errors.map(withoutSuggestions) : errors;
          const tooCostly = checkCost(options.schema, document, payload.operationName, payload.variables, limits);
          if (tooCostly) return [tooCostly];
          ids.add(id);
          return { schema: options.schema, document, variableValues: payload.variables, operationName: payload.operationName };
        } catch (error) {
          // A syntax error or a refused document fails this operation only, not the socket.
          options.logger.debug('websocket subscribe refused', { error });
          return [preparationError(error, options.logger)];
        }
      },
      onComplete: (ctx, id) => {
        active.get(ctx)?.delete(id);
      },
      onNext: (_ctx, _id, _payload, _args, result) => {
        if (!result.errors) return undefined;
        return { ...result, errors: result.errors.map((error) => clientError(error).toJSON()) };
      },
      onError: (_ctx, _id, _payload, errors) => errors.map((error) => clientError(error).toJSON()),
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

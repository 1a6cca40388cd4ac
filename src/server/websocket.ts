/**
 * GraphQL over WebSocket (the graphql-ws protocol) on the HTTP server's port, at /graphql.
 * The protocol's own rules and close codes come from graphql-ws (init timeout 4408, second init
 * 4429, subscribe before ack 4401, duplicate id 4409, malformed message 4400). This module adds
 * the gateway's: a subscription limit per connection, error codes in `extensions`, client
 * authentication on connect, the rate limit, trusted documents, the upgrade's origin check, and
 * the close on shutdown.
 *
 * Every operation runs through yoga's envelop (`yoga.getEnveloped`, yoga's graphql-ws recipe):
 * parse, validate, context, execute and subscribe are yoga's, so every yoga plugin sees WebSocket
 * operations as it sees HTTP and SSE ones: the query limits (tokens, shape, cost), graphql-jit for
 * queries, metrics, tracing, error masking, and yoga's caches of parsed documents and validation
 * results. Those caches share one parsed document per query text between all connections (the
 * document cache this module had before is gone). Each operation gets a fresh context
 * (DataLoaders), and its `extensions.consistencyToken` is honoured as over HTTP.
 *
 * A subscribe that cannot be prepared (a syntax error, a validation error, a limit, the
 * connection's subscription limit, a bad consistency token, or any error thrown while preparing
 * it) fails that one operation with an `error` message whose GraphQL errors carry
 * `extensions.code` (`GRAPHQL_PARSE_FAILED` for a syntax error, as over HTTP); the socket and its
 * other subscriptions stay open. The cost limit is checked here too, before graphql-ws starts the
 * operation, so that a too costly subscribe also fails with an `error` message (the query limits
 * plugin checks it again when it runs).
 *
 * Security switches: with client authentication the socket's token claims become each
 * operation's `context.claims`; with a rate limit (./rate-limit.ts) an upgrade is refused with
 * 429 and `Retry-After` by the client's address (without client authentication), a
 * `connection_init` is closed with 1013 (try again later) by the token's subject (with it), and a
 * subscribe over the limit fails alone with GW_RATE_LIMITED; with trusted documents a subscribe
 * names its document by id (./trusted-documents.ts); with INTROSPECTION=false yoga's plugin
 * (./introspection.ts) applies the same rule and suggestion filter as over HTTP, and the errors
 * this module sends lose their suggestions too. A key set that cannot be fetched
 * (GW_AUTH_UNAVAILABLE) closes the socket with 1013 too, not 4403.
 *
 * Cross-site WebSocket hijacking: browsers send `Origin` on the upgrade and CORS does not apply
 * to WebSockets, so an upgrade whose `Origin` is neither this server's own (the `Host` it was
 * sent to) nor listed in CORS_ORIGINS is refused with 403. Clients that send no `Origin` (not
 * browsers) are not affected.
 *
 * Backpressure: graphql-ws waits for each message to be written before pulling the next event,
 * so a slow client stops pulling; its bounded stream in the hub then overflows and it is cut off
 * with a resume token (see src/subscriptions/stream.ts). Nobody else waits for it.
 *
 * Shutdown (`stop`): once the hub has ended the subscriptions (each with GW_INSTANCE_STOPPING
 * and its resume token), `stop` waits until every operation has sent its last message, or the
 * deadline, then closes every socket with 1001 "Going away".
 */
import type { Server } from 'node:http';
import { getOperationAST, GraphQLError, type ExecutionArgs, type ExecutionResult } from 'graphql';
import type { YogaServerInstance } from 'graphql-yoga';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { checkCost } from '../graphql/cost.ts';
import { isGatewayError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { onExpiry, type ClientAuth } from './client-auth.ts';
import { isGraphQLError, toClientError } from './client-errors.ts';
import { withoutSuggestions } from './introspection.ts';
import { errorCodes, type Transport } from './metrics.ts';
import type { QueryLimitsOptions } from './query-limits.ts';
import { clientKey, rateLimitError, retryAfterSeconds, type RateLimiter } from './rate-limit.ts';
import { trustedSubscribeText, type SubscribePayload, type TrustedDocuments } from './trusted-documents.ts';

export interface WebSocketOptions {
  readonly server: Server;
  // biome-ignore lint/suspicious/noExplicitAny: yoga's server and user context types do not matter here
  readonly yoga: YogaServerInstance<any, any>;
  /** For the cost check before an operation starts (the other limits run in yoga's plugins). */
  readonly queryLimits: QueryLimitsOptions;
  readonly maxSubscriptionsPerConnection: number;
  readonly logger: Logger;
  readonly clientAuth?: ClientAuth | undefined;
  /** Origins besides this server's own whose pages may open a WebSocket (CORS_ORIGINS). */
  readonly corsOrigins?: readonly string[];
  /** Counts the errors sent to clients, by code (metrics). */
  readonly countErrors?: (codes: readonly string[], transport: Transport) => void;
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
  /** Operations (queries and subscriptions) that have not sent their last message yet. */
  readonly operations: number;
  /** Waits for the operations to finish (at most until `deadline`, epoch ms), then closes every socket with 1001. */
  stop(deadline?: number): Promise<void>;
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
    // graphql-js's syntax error, the only GraphQL error thrown while preparing. Marked in place,
    // as yoga marks it over HTTP: yoga's cache of parse errors keeps this object, and an HTTP
    // request with the same text gets it back without passing yoga's marking again.
    const extensions = error.extensions as Record<string, unknown>;
    extensions['code'] = 'GRAPHQL_PARSE_FAILED';
    extensions['http'] ??= { status: 400, spec: true };
    return error;
  }
  return toClientError(error, logger);
}

/** An error as the client gets it: mapped (without suggestions if asked), without yoga's internal `extensions.http`. */
function forClient(error: unknown, logger: Logger, hideSuggestions: boolean): ReturnType<GraphQLError['toJSON']> {
  const mapped = toClientError(error, logger);
  const json = (hideSuggestions ? withoutSuggestions(mapped) : mapped).toJSON();
  if (json.extensions && 'http' in json.extensions) {
    const { http: _http, ...rest } = json.extensions;
    if (Object.keys(rest).length > 0) return { ...json, extensions: rest };
    const { extensions: _extensions, ...withoutExtensions } = json;
    return withoutExtensions;
  }
  return json;
}

/** What graphql-ws's execute and subscribe return. */
type OperationResult = Promise<AsyncIterable<ExecutionResult> | ExecutionResult>;

/** The enveloped executors an operation's execution arguments carry to graphql-ws's execute/subscribe. */
interface Executors {
  execute(args: ExecutionArgs): unknown;
  subscribe(args: ExecutionArgs): unknown;
}

export function attachWebSocket(options: WebSocketOptions): WebSocketEndpoint {
  const { logger, rateLimit, trustedDocuments } = options;
  const listed = new Set(options.corsOrigins ?? []);
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
  const connections = new WeakMap<object, ConnectionState>();
  /** Per connection: the ids holding a slot (starting or started), and those started. */
  const active = new WeakMap<object, { slots: Set<string>; running: Set<string> }>();
  let operations = 0;
  let drained: (() => void) | undefined;
  const finished = (count: number): void => {
    operations -= count;
    if (operations === 0) drained?.();
  };
  const count = (errors: ReadonlyArray<{ readonly extensions?: Readonly<Record<string, unknown>> | undefined }>) =>
    options.countErrors?.(errorCodes(errors), 'websocket');
  /** Runs an enveloped executor; a throw becomes a result with the error, never a 4500 close of the socket. */
  const run = async (which: keyof Executors, args: ExecutionArgs): OperationResult => {
    try {
      return (await (args.rootValue as Executors)[which]({ ...args, rootValue: undefined })) as AsyncIterable<ExecutionResult> | ExecutionResult;
    } catch (error) {
      logger.debug('websocket operation failed', { error });
      return { errors: [toClientError(error, logger)] } satisfies ExecutionResult;
    }
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
          logger.debug('websocket client refused', { error });
          // The key set could not be fetched: the token was not checked, so try again later.
          if (isGatewayError(error) && error.code === 'GW_AUTH_UNAVAILABLE') {
            logger.warn('client token not checked: the key set is unavailable', { error });
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
          logger.debug('websocket closed: client token expired');
          socket.close(4403, 'Forbidden: the token has expired');
        });
        socket.once('close', cancel);
        connections.set(ctx, { claims: identity.claims, key });
        return true;
      },
      execute: (args) => run('execute', args),
      subscribe: (args) => run('subscribe', args),
      // Returns either errors (sent as the operation's `error` message, as graphql-ws does with
      // its own validation) or execution arguments. Nothing is thrown: graphql-ws would close the
      // whole socket (4500) for an error thrown here.
      onSubscribe: async (ctx, id, payload) => {
        const ids = active.get(ctx) ?? { slots: new Set<string>(), running: new Set<string>() };
        active.set(ctx, ids);
        if (ids.slots.size >= options.maxSubscriptionsPerConnection) {
          return [
            new GraphQLError(`a connection may hold at most ${options.maxSubscriptionsPerConnection} subscriptions`, {
              extensions: { code: 'GW_SUBSCRIPTION_LIMIT', retriable: true },
            }),
          ];
        }
        if (rateLimit) {
          const wait = rateLimit.take(connections.get(ctx)?.key ?? clientKey(undefined, ctx.extra.request.socket.remoteAddress));
          if (wait !== undefined) return [toClientError(rateLimitError(wait), logger)];
        }
        // The slot is taken before the first await (subscribes of one connection are prepared
        // concurrently) and given back unless the operation starts: graphql-ws calls onComplete
        // for started operations only.
        ids.slots.add(id);
        let started = false;
        try {
          let text = payload.query;
          if (trustedDocuments) {
            const trusted = trustedSubscribeText(trustedDocuments, payload as SubscribePayload);
            if (typeof trusted !== 'string') return [trusted];
            text = trusted;
          }
          const { schema, execute, subscribe, contextFactory, parse, validate } = options.yoga.getEnveloped({
            ...ctx,
            req: ctx.extra.request,
            socket: ctx.extra.socket,
            params: { ...payload, query: text },
            claims: connections.get(ctx)?.claims,
            transport: 'websocket',
          });
          const document = parse(text);
          const errors = validate(schema, document);
          if (errors.length > 0) return errors;
          // graphql-ws answers this itself, but without calling onComplete.
          if (!getOperationAST(document, payload.operationName)) return [new GraphQLError('Unable to identify operation')];
          const tooCostly = checkCost(schema, document, payload.operationName, payload.variables, options.queryLimits);
          if (tooCostly) return [tooCostly];
          const contextValue = await contextFactory();
          if (!ids.slots.has(id)) return [new GraphQLError('the connection closed')];
          started = true;
          ids.running.add(id);
          operations++;
          return {
            schema,
            document,
            contextValue,
            variableValues: payload.variables,
            operationName: payload.operationName,
            rootValue: { execute, subscribe } satisfies Executors,
          };
        } catch (error) {
          // A syntax error or a refused document fails this operation only, not the socket.
          logger.debug('websocket subscribe refused', { error });
          return [preparationError(error, logger)];
        } finally {
          if (!started) ids.slots.delete(id);
        }
      },
      onComplete: (ctx, id) => {
        const ids = active.get(ctx);
        ids?.slots.delete(id);
        // graphql-ws sends `complete` after this hook returns: an operation counts as finished
        // once that message is written, so a stop does not close the socket before it.
        if (ids?.running.delete(id)) setImmediate(() => finished(1));
      },
      // A socket that closes frees its operations' slots, even one whose last message could not be sent.
      onClose: (ctx) => {
        const ids = active.get(ctx);
        if (!ids) return;
        if (ids.running.size > 0) finished(ids.running.size);
        ids.running.clear();
        ids.slots.clear();
      },
      onNext: (_ctx, _id, _payload, _args, result) => {
        if (!result.errors) return undefined;
        count(result.errors);
        return { ...result, errors: result.errors.map((error) => forClient(error, logger, hideSuggestions)) };
      },
      onError: (_ctx, _id, _payload, errors) => {
        count(errors);
        return errors.map((error) => forClient(error, logger, hideSuggestions));
      },
    },
    wss,
  );
  return {
    get connections() {
      return wss.clients.size;
    },
    get operations() {
      return operations;
    },
    async stop(deadline = Date.now()) {
      const wait = deadline - Date.now();
      if (operations > 0 && wait > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait);
          drained = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      // Closes every socket with 1001 "Going away"; a socket that does not answer the close
      // handshake is cut.
      const cut = setTimeout(() => {
        for (const client of wss.clients) client.terminate();
      }, 1_000);
      await disposable.dispose();
      clearTimeout(cut);
    },
  };
}

/**
 * HTTP front: GraphQL (and GraphiQL) at /graphql through graphql-yoga, plus plain /healthz,
 * /readyz and /metrics. Yoga plugins, in request order: trusted documents (when configured),
 * introspection off (when configured), validation limits, freshness report in `extensions`, and
 * error mapping (registry codes pass through, anything else is masked). What a browser may do
 * (CORS allow-list, CSRF prevention, JSON bodies, queries only over GET) is in ./browser.ts.
 * In front of yoga: the body limit, then client authentication and the per-client rate limit
 * (`admit`); /metrics behind METRICS_TOKEN; HTTPS instead of HTTP with TLS_CERT_FILE.
 *
 * One unit, longer than most files: it is the request path's composition, in order; each step
 * (limits, browser policy, auth, pages, peer handler) lives in its own module.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { useGraphQlJit } from '@envelop/graphql-jit';
import { getOperationAST, GraphQLError, type DocumentNode, type GraphQLSchema } from 'graphql';
import { createYoga, type Plugin } from 'graphql-yoga';
import { createContext, freshnessExtensions, type GraphQLContext } from '../graphql/context.ts';
import { createLiteralNormalizer, NORMALIZED_TRIAL } from '../graphql/literals.ts';
import type { Logger } from '../log.ts';
import type { Hub } from '../subscriptions/hub.ts';
import { toClientError } from './client-errors.ts';
import { ERRORS, GatewayError, isGatewayError, type ErrorCode } from '../errors.ts';
import { onExpiry, type ClientAuth, type ClientIdentity } from './client-auth.ts';
import { noIntrospectionPlugin } from './introspection.ts';
import { clientKey, rateLimitError, retryAfterSeconds, type RateLimiter } from './rate-limit.ts';
import type { ListenerTls } from './tls.ts';
import { trustedDocumentsPlugin, type TrustedDocuments } from './trusted-documents.ts';
import { createTextCache, queryLimitsPlugin, type QueryLimitsOptions } from './query-limits.ts';
import { attachWebSocket } from './websocket.ts';
import { trackHttp } from './lifecycle.ts';
import type { Transport } from './metrics.ts';
import { tracingPlugin } from './telemetry.ts';
import { browserPolicy } from './browser.ts';
import type { ReadWorkers } from './read-workers.ts';
import { createFastPath, type CompiledEntry, type Fallback } from './fast-path.ts';
import { graphiqlOptions, offlineGraphiql } from './graphiql.ts';
import { servePage } from './pages.ts';
import type { ResponseCache } from './response-cache.ts';
import { decodeToken } from '../routing/consistency.ts';
import type { Readiness } from '../cluster/serving.ts';
import type { ViewReader } from '../routing/reader.ts';

/** Request header carrying a consistency token (alternative: request `extensions.consistencyToken`). */
export const CONSISTENCY_HEADER = 'x-gw-consistency';

export interface HttpServerOptions {
  readonly schema: GraphQLSchema;
  readonly reader: ViewReader;
  readonly host: string;
  readonly port: number;
  /** Limits on every GraphQL document, over HTTP, SSE and WebSocket alike. */
  readonly queryLimits: QueryLimitsOptions;
  readonly readiness: () => Readiness;
  /** Liveness: a reason when the instance cannot recover by itself (it should be restarted). */
  readonly unhealthy?: () => string | undefined;
  /** The `/metrics` text (Prometheus exposition). */
  readonly metrics: () => Promise<string> | string;
  /** Further yoga plugins (metrics); they see HTTP, SSE and WebSocket operations. */
  readonly plugins?: readonly Plugin[];
  /** Counts errors sent to clients outside yoga's answers (refusals in front of yoga, WebSocket messages). */
  readonly countErrors?: (codes: readonly string[], transport: Transport) => void;
  readonly logger: Logger;
  readonly exampleQuery?: string;
  /** Where subscriptions are served (WebSocket and SSE); none without it. */
  readonly subscriptions?: { hub: Hub; maxPerConnection: number };
  /** Client authentication; every GraphQL request must pass it (GraphiQL's page itself is open). */
  readonly clientAuth?: ClientAuth | undefined;
  /** Origins whose pages may call /graphql cross-origin (CORS_ORIGINS); none by default. */
  readonly corsOrigins?: readonly string[];
  /** Handles the internal peer protocol path (see src/peer/PROTOCOL.md). */
  readonly peer?: { path: string; handle: (request: IncomingMessage, response: ServerResponse) => Promise<void> };
  /** HTTPS and WSS on the port (TLS_CERT_FILE, TLS_KEY_FILE); plain HTTP without. */
  readonly tls?: ListenerTls | undefined;
  /** Only these documents run, by id (TRUSTED_DOCUMENTS_FILE); see ./trusted-documents.ts. */
  readonly trustedDocuments?: TrustedDocuments | undefined;
  /** Token buckets per client for GraphQL requests, WebSocket connections and subscribes. */
  readonly rateLimit?: RateLimiter | undefined;
  /** Whether /graphql serves GraphiQL's page (GRAPHIQL, default true). */
  readonly graphiql?: boolean;
  /** Whether introspection and "Did you mean" suggestions are allowed (INTROSPECTION, default true). */
  readonly introspection?: boolean;
  /** The bearer token /metrics requires (METRICS_TOKEN); open without. */
  readonly metricsToken?: string | undefined;
  /** Fast-path answers kept while the partitions they read are unchanged (./response-cache.ts). */
  readonly responses?: ResponseCache | undefined;
  /** Worker threads that run fast-path queries beside the main thread (./read-workers.ts). */
  readonly workers?: ReadWorkers | undefined;
  /** Counts what the fast path (./fast-path.ts) answers, as the metrics plugins count yoga's answers. */
  readonly fastPathMetrics?: {
    operation(document: DocumentNode, operationName: string | null | undefined, context: unknown, seconds: number): void;
    fastPath(outcome: 'answered' | 'yoga'): void;
  };
}

export interface HttpServer {
  readonly url: string;
  readonly server: Server;
  /**
   * GraphQL at /graphql through yoga's Fetch API handler, in process: no socket, and none of the
   * HTTP layer in front of yoga (body limits, client authentication, health, metrics, peer protocol).
   */
  fetch(url: string, init?: RequestInit): Promise<Response>;
  /** Open connections and requests in flight (metrics). */
  readonly connections: { readonly http: number; readonly websocket: number; readonly requestsInFlight: number };
  /** From now on answers carry `Connection: close` (the first step of a graceful stop). */
  beginStop(): void;
  /**
   * Stops accepting connections, lets WebSocket operations send their last message and the
   * requests in flight finish until `deadline` (epoch ms; default now), then closes every
   * connection (WebSockets with 1001). Subscriptions are ended before, by the hub.
   */
  stop(deadline?: number): Promise<void>;
}

const MAX_BODY_BYTES = 256 * 1024;
/** Characters of query text yoga's parse caches keep in all (about 40 MB of parse trees). */
const PARSE_CACHE_CHARS = 512 * 1024;
/** Longer texts are parsed on every request and never kept. */
const PARSE_CACHE_MAX_TEXT = 16 * 1024;

function freshnessPlugin(): Plugin<GraphQLContext> {
  return {
    onExecute() {
      return {
        onExecuteDone({ args, result, setResult }) {
          if (!result || Symbol.asyncIterator in result) return;
          const context = args.contextValue as GraphQLContext;
          setResult({
            ...result,
            extensions: { ...result.extensions, ...freshnessExtensions(context) },
          });
        },
      };
    },
  };
}

/**
 * An execution result without `data` is a request error (variables that do not coerce, an unknown
 * operation name): the GraphQL-over-HTTP spec answers it with 400 for
 * `application/graphql-response+json`, and with 200 for legacy `application/json` (`spec: true`).
 * graphql-jit reports such errors without the status graphql-js's path carries.
 */
function requestErrorStatusPlugin(): Plugin {
  return {
    onExecute() {
      return {
        onExecuteDone({ result, setResult }) {
          if (!result || Symbol.asyncIterator in result || result.data !== undefined || !result.errors?.length) return;
          setResult({
            ...result,
            errors: result.errors.map((error) =>
              error.extensions?.['http']
                ? error
                : new GraphQLError(error.message, {
                    nodes: error.nodes,
                    source: error.source,
                    positions: error.positions,
                    path: error.path,
                    originalError: error.originalError,
                    extensions: { ...error.extensions, http: { status: 400, spec: true } },
                  }),
            ),
          });
        },
      };
    },
  };
}

/**
 * GraphiQL's HTML page: with GraphiQL on, yoga answers every GET for text/html at /graphql with
 * the page (a `?query=` only fills its editor; nothing runs). It holds no data.
 */
function isGraphiqlPage(request: IncomingMessage, path: string | undefined, graphiql: boolean): boolean {
  return graphiql && path === '/graphql' && request.method === 'GET' && (request.headers.accept ?? '').includes('text/html');
}

/** The code a request was refused with in front of yoga (counted in metrics). */
const refusedWith = new WeakMap<ServerResponse, ErrorCode>();
/** Runs of each parsed document before it is compiled with graphql-jit (see the plugins list). */
const JIT_AFTER_RUNS = 1;
const runs = new WeakMap<DocumentNode, number>();

/** True from a document's second run on; the count dies with the document (a WeakMap). */
function compileFromSecondRun(document: DocumentNode): boolean {
  const seen = (runs.get(document) ?? 0) + 1;
  runs.set(document, seen);
  return seen > JIT_AFTER_RUNS;
}

/** Answers a request yoga never sees with a GraphQL error body. */
function refuse(
  response: ServerResponse,
  status: number,
  code: ErrorCode,
  message: string,
  headers: Record<string, string> = {},
  details?: Record<string, unknown>,
): void {
  refusedWith.set(response, code);
  response
    .writeHead(status, { 'content-type': 'application/json', ...headers })
    .end(JSON.stringify({ errors: [{ message, extensions: { code, retriable: ERRORS[code].retriable, ...(details ? { details } : {}) } }] }));
}

/** Whether an Authorization header is `Bearer <token>` (compared in constant time). */
function bearerMatches(authorization: string | undefined, token: string): boolean {
  const given = Buffer.from(/^\s*Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1] ?? '');
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const { logger } = options;
  const browser = browserPolicy(options.corsOrigins ?? []);
  const documentCache = createTextCache<DocumentNode>(PARSE_CACHE_CHARS, PARSE_CACHE_MAX_TEXT);
  // Compiled queries by text, for graphql-jit and the fast path alike; bounded like the parses.
  const compiledCache = createTextCache<CompiledEntry>(PARSE_CACHE_CHARS, PARSE_CACHE_MAX_TEXT);
  const yoga = createYoga<Record<string, unknown>, GraphQLContext>({
    schema: options.schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    healthCheckEndpoint: '/yoga-health',
    logging: false,
    batching: false,
    multipart: false,
    cors: browser.cors,
    graphiql: options.graphiql === false ? false : graphiqlOptions(options.exampleQuery),
    renderGraphiQL: offlineGraphiql(),
    context: ({ request, params, claims }) => {
      // No `request` over WebSocket (yoga's envelop runs its operations, src/server/websocket.ts).
      const token = request?.headers.get(CONSISTENCY_HEADER) ?? (params?.extensions?.consistencyToken as string | undefined);
      const verified = claims as Readonly<Record<string, unknown>> | undefined;
      return createContext(options.reader, token ? decodeToken(String(token)) : undefined, options.subscriptions?.hub, verified);
    },
    parserAndValidationCache: {
      documentCache,
      errorCache: createTextCache(PARSE_CACHE_CHARS, PARSE_CACHE_MAX_TEXT),
    },
    plugins: [
      ...(options.trustedDocuments ? [trustedDocumentsPlugin(options.trustedDocuments)] : []),
      ...(options.introspection === false ? [noIntrospectionPlugin()] : []),
      queryLimitsPlugin(options.schema, options.queryLimits),
      // A query document's first run goes through graphql-js; from its second run on it runs as
      // compiled JavaScript (graphql-jit), compiled once per parsed document (the parser cache
      // hands back the same document for the same text). Compiling costs tens of times one run,
      // so a document seen once (an id written into the query text) is not compiled for nothing.
      // The same for queries over WebSocket (yoga's envelop runs them). Subscriptions keep
      // graphql-js's executor.
      useGraphQlJit(
        {},
        {
          enableIf: (args) => compileFromSecondRun(args.document) && getOperationAST(args.document, args.operationName)?.operation === 'query',
          cache: compiledCache as never,
        },
      ),
      freshnessPlugin(),
      requestErrorStatusPlugin(),
      ...browser.plugins,
      ...(options.plugins ?? []),
      // After graphql-jit, so the operation's span wraps the executor that runs.
      tracingPlugin(),
    ],
    maxRequestBodySize: false, // enforced before yoga, see the request handler
    maskedErrors: { maskError: (error, message) => toClientError(error, logger, message) },
  });

  /**
   * Client authentication and the rate limit, in front of yoga: the server context handed to
   * yoga (the token's claims), or undefined when the request was refused here.
   */
  const admit = async (request: IncomingMessage, response: ServerResponse): Promise<{ claims?: ClientIdentity['claims'] } | undefined> => {
    let identity: ClientIdentity | undefined;
    if (options.clientAuth) {
      try {
        identity = await options.clientAuth.verify(request.headers.authorization);
      } catch (error) {
        if (!isGatewayError(error)) throw error;
        const unavailable = error.code === 'GW_AUTH_UNAVAILABLE';
        if (unavailable) logger.warn('client token not checked: the key set is unavailable', { error });
        refuse(response, error.status, error.code, error.message, unavailable ? { 'retry-after': '5' } : { 'www-authenticate': 'Bearer' });
        return undefined;
      }
    }
    if (options.rateLimit) {
      const wait = options.rateLimit.take(clientKey(identity?.subject, request.socket.remoteAddress));
      if (wait !== undefined) {
        const error = rateLimitError(wait);
        refuse(response, error.status, error.code, error.message, { 'retry-after': String(retryAfterSeconds(wait)) }, error.details);
        return undefined;
      }
    }
    // An event stream (SSE subscription) is cut when its token expires, as if the client had
    // gone away; the client reconnects with a fresh token.
    if (identity?.expiresAtMs !== undefined && request.headers.accept?.includes('text/event-stream')) {
      response.once(
        'close',
        onExpiry(identity, () => response.destroy()),
      );
    }
    return identity ? { claims: identity.claims } : {};
  };

  // Repeated queries without yoga's request pipeline; anything else, and any answer it would not
  // give exactly as yoga does, is yoga's (./fast-path.ts). Not with trusted documents: those are
  // looked up by id in the request's extensions, which the fast path leaves to yoga anyway.
  const fast = options.trustedDocuments
    ? undefined
    : createFastPath({
        schema: options.schema,
        reader: options.reader,
        hub: options.subscriptions?.hub,
        documents: documentCache,
        compiled: compiledCache,
        normalizer: createLiteralNormalizer(options.schema, { maxText: PARSE_CACHE_MAX_TEXT, maxChars: PARSE_CACHE_CHARS }),
        limits: options.queryLimits,
        consistencyHeader: CONSISTENCY_HEADER,
        corsOrigins: options.corsOrigins,
        logger,
        observe: options.fastPathMetrics?.operation,
        counted: options.fastPathMetrics?.fastPath,
        countErrors: options.countErrors,
        responses: options.responses,
        workers: options.workers,
      });
  /** Yoga's answer to a request whose body the fast path has read already. */
  const yogaAnswer = async (
    request: IncomingMessage,
    body: string,
    serverContext: object,
  ): Promise<{ status: number; head: Record<string, string>; bytes: Buffer }> => {
    const headers = new Headers();
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined && name !== 'content-length') headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    const answer = await yoga.fetch(
      new Request(`http://${request.headers.host ?? 'localhost'}${request.url ?? '/graphql'}`, { method: 'POST', headers, body }),
      serverContext,
    );
    const bytes = Buffer.from(await answer.arrayBuffer());
    const head: Record<string, string> = {};
    answer.headers.forEach((value, name) => {
      head[name] = value;
    });
    return { status: answer.status, head, bytes };
  };
  /**
   * Yoga answers what the fast path handed back: the text with its literals as variables when
   * there is one and it answers without an error, else the original text. A normalized text
   * answered without data (a validation or coercion error) is not tried again for that shape.
   */
  const yogaFallback = async (request: IncomingMessage, response: ServerResponse, fallback: Fallback, serverContext: object): Promise<void> => {
    let answer: Awaited<ReturnType<typeof yogaAnswer>> | undefined;
    if (fallback.normalized) {
      const trial = await yogaAnswer(request, fallback.normalized.body, { ...serverContext, [NORMALIZED_TRIAL]: true });
      const result = trial.status === 200 ? (JSON.parse(trial.bytes.toString('utf8')) as { data?: unknown; errors?: unknown }) : undefined;
      if (result && result.errors === undefined) answer = trial;
      else if (result?.data === undefined || result.data === null) fallback.normalized.reject();
    }
    answer ??= await yogaAnswer(request, fallback.body, serverContext);
    response.writeHead(answer.status, { ...answer.head, 'content-length': String(answer.bytes.length) }).end(answer.bytes);
  };
  const graphql = (
    request: IncomingMessage,
    response: ServerResponse,
    path: string | undefined,
    serverContext: { claims?: ClientIdentity['claims'] },
  ): void => {
    if (!fast?.accepts(request, path)) {
      void yoga(request, response, serverContext);
      return;
    }
    fast
      .serve(request, response, serverContext.claims)
      .then((fallback) => fallback && yogaFallback(request, response, fallback, serverContext))
      .catch((error: unknown) => {
        logger.error('request failed', { error });
        if (!response.headersSent) refuse(response, 500, 'GW_INTERNAL_ERROR', 'Unexpected error.');
      });
  };

  const handle = (request: IncomingMessage, response: ServerResponse): void => {
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
      if (options.metricsToken !== undefined && !bearerMatches(request.headers.authorization, options.metricsToken)) {
        refuse(response, 401, 'GW_METRICS_UNAUTHORIZED', '/metrics requires "Authorization: Bearer <METRICS_TOKEN>"', {
          'www-authenticate': 'Bearer',
        });
        return;
      }
      Promise.resolve()
        .then(() => options.metrics())
        .then(
          (text) => response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(text),
          (error: unknown) => {
            logger.error('metrics failed', { error });
            if (!response.headersSent) response.writeHead(500).end();
          },
        );
      return;
    }
    // A refusal below carries the CORS headers yoga gives a listed origin, so its page can read it.
    for (const [name, value] of Object.entries(browser.headersFor(request.headers.origin))) response.setHeader(name, value);
    if (servePage(request, response, path ?? '/')) return;
    // The body limit is enforced here, from the declared length; Node's parser never reads past
    // it. (Yoga's own limit streams every body through a TransformStream and a pipeline whose
    // clean-up builds an AbortError with a stack trace on every request; see BENCHMARKS.md.)
    const declared = request.headers['content-length'];
    if (declared === undefined && request.headers['transfer-encoding'] !== undefined) {
      // The body is not read: close the connection rather than leave it in the stream.
      refuse(response, 411, 'GW_QUERY_TOO_COMPLEX', 'a request body needs a content-length header (chunked bodies are not accepted)', {
        connection: 'close',
      });
      return;
    }
    if (Number(declared ?? 0) > MAX_BODY_BYTES) {
      refuse(response, 413, 'GW_QUERY_TOO_COMPLEX', `request body exceeds ${MAX_BODY_BYTES} bytes`, { connection: 'close' });
      return;
    }
    // A CORS preflight (OPTIONS) carries no credentials; yoga answers it, as GraphiQL's page.
    const open = request.method === 'OPTIONS' || isGraphiqlPage(request, path, options.graphiql !== false);
    if (open) {
      void yoga(request, response);
      return;
    }
    if (!options.clientAuth && !options.rateLimit) {
      graphql(request, response, path, {});
      return;
    }
    admit(request, response).then(
      (serverContext) => {
        if (serverContext) graphql(request, response, path, serverContext);
      },
      (error: unknown) => {
        logger.error('request admission failed', { error });
        if (!response.headersSent) refuse(response, 500, 'GW_INTERNAL_ERROR', 'Unexpected error.');
      },
    );
  };
  const server: Server = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, handle) : createServer(handle);
  server.keepAliveTimeout = 65_000;
  const tracker = trackHttp(server);
  if (options.countErrors) {
    const count = options.countErrors;
    server.on('request', (_request: IncomingMessage, response: ServerResponse) => {
      response.once('finish', () => {
        const code = refusedWith.get(response);
        if (code) count([code], 'http');
      });
    });
  }

  await new Promise<void>((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException): void => {
      // A port in use or not permitted is a configuration problem: name the variables.
      if (error.code === 'EADDRINUSE' || error.code === 'EACCES' || error.code === 'EADDRNOTAVAIL') {
        const why = { EADDRINUSE: 'is already in use', EACCES: 'is not permitted for this user', EADDRNOTAVAIL: 'is not an address of this machine' }[
          error.code
        ];
        const variable = error.code === 'EADDRNOTAVAIL' ? 'HOST' : 'PORT';
        reject(
          new GatewayError('GW_CONFIG_INVALID', `${variable} cannot be listened on: ${options.host}:${options.port} ${why} (${error.code})`, {
            details: { variable },
            cause: error,
          }),
        );
      } else {
        reject(error);
      }
    };
    server.once('error', failed);
    server.listen(options.port, options.host, () => {
      server.off('error', failed);
      resolve();
    });
  });
  const websocket = options.subscriptions
    ? attachWebSocket({
        server,
        yoga,
        queryLimits: options.queryLimits,
        maxSubscriptionsPerConnection: options.subscriptions.maxPerConnection,
        clientAuth: options.clientAuth,
        corsOrigins: options.corsOrigins ?? [],
        countErrors: options.countErrors,
        trustedDocuments: options.trustedDocuments,
        rateLimit: options.rateLimit,
        introspection: options.introspection,
        logger,
      })
    : undefined;
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${options.tls ? 'https' : 'http'}://${host}:${address.port}`;
  logger.info('http listening', { url: `${url}/graphql` });
  return {
    url,
    server,
    fetch: async (input, init) => yoga.fetch(input, init ?? {}),
    get connections() {
      return { http: tracker.connections, websocket: websocket?.connections ?? 0, requestsInFlight: tracker.requestsInFlight };
    },
    beginStop: () => tracker.beginStop(),
    async stop(deadline = Date.now()) {
      tracker.beginStop();
      // Both bounded by the deadline: the WebSockets send their last messages and close with 1001
      // while the HTTP requests in flight finish.
      const [cut] = await Promise.all([
        tracker.drain(deadline),
        websocket?.stop(deadline).finally(() => {
          for (const socket of tracker.upgraded) socket.destroy();
        }),
      ]);
      if (cut > 0) logger.warn('requests cut at the shutdown deadline', { requests: cut });
    },
  };
}

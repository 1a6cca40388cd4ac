/**
 * The fast path for repeated queries over HTTP: a `POST /graphql` whose query text yoga has
 * already parsed, validated, limited and compiled with graphql-jit (its second run) is run here
 * without yoga's request pipeline. The text finds its parsed document in yoga's document cache and
 * its compiled query in the graphql-jit cache; what depends on the request is done here as yoga's
 * plugins do it: the cost limit with the request's variables, the deadline (QUERY_TIMEOUT_MS),
 * the consistency token, the freshness extensions and the operation metrics. Client
 * authentication and rate limits run before either path (src/server/http.ts, `admit`).
 *
 * Hand-written because no yoga or Envelop plugin removes the pipeline itself: on a lookup, yoga's
 * Request/Response adaptation, Envelop's hook orchestration and the promise helpers take more CPU
 * than parsing the body, running the compiled query and reading the row together (BENCHMARKS.md,
 * "Fast path"). Anything this path does not answer exactly as yoga would goes to yoga:
 *
 * - a request from an origin in CORS_ORIGINS (yoga adds its CORS headers), another content type,
 *   an `Accept` other than `application/json`, request `extensions` other than a consistency token,
 *   a GET, a text not seen before, a document with several operations or one that is not a query;
 * - a result without `data` (variables that do not coerce, a refused cost) or with an error that
 *   sets an HTTP status: yoga runs the request again and answers it. A query is read-only, so the
 *   second run only costs time, and only on those answers;
 * - everything while OpenTelemetry tracing is on (yoga's spans).
 *
 * A browser's request from any other origin, the gateway's own pages included, is answered here
 * as yoga answers it: no CORS headers, `Vary: Origin` when CORS_ORIGINS is not empty. CSRF
 * prevention lets a JSON POST through, and a cross-site page cannot send one without a preflight
 * that yoga refuses.
 *
 * An answer without errors may be kept and sent again while every partition it read is unchanged
 * (./response-cache.ts), keyed by the request's body, answer type, consistency token and claims.
 * With read workers (./read-workers.ts), the query runs on a worker thread and its answer is sent
 * as is; a query the worker hands back, or none could take, runs here.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getOperationAST, type DocumentNode, type ExecutionResult, type GraphQLError, type GraphQLSchema } from 'graphql';
import { checkCost, fixedCost } from '../graphql/cost.ts';
import type { QueryLimits } from '../graphql/limits.ts';
import { createContext, freshnessExtensions, type GraphQLContext } from '../graphql/context.ts';
import type { LiteralNormalizer, Normalized } from '../graphql/literals.ts';
import type { Logger } from '../log.ts';
import { decodeToken } from '../routing/consistency.ts';
import type { ViewReader } from '../routing/reader.ts';
import type { Hub } from '../subscriptions/hub.ts';
import { tracingEnabled } from '../tracing.ts';
import { toClientError } from './client-errors.ts';
import { errorCodes } from './metrics.ts';
import type { ReadWorkers } from './read-workers.ts';
import { MAX_KEY_CHARS, wantsFresh, type ResponseCache } from './response-cache.ts';

/** A query as graphql-jit compiled it (the `cache` entries of @envelop/graphql-jit). */
export interface CompiledEntry {
  query(root: unknown, context: unknown, variables: Record<string, unknown> | null | undefined): ExecutionResult | Promise<ExecutionResult>;
  stringify?(result: ExecutionResult): string;
}

interface TextCache<T> {
  get(key: string): T | undefined;
}

export interface FastPathOptions {
  readonly schema: GraphQLSchema;
  readonly reader: ViewReader;
  readonly hub: Hub | undefined;
  /** Yoga's parsed documents by query text (its `parserAndValidationCache.documentCache`). */
  readonly documents: TextCache<unknown>;
  /** graphql-jit's compiled queries by query text (the `cache` of useGraphQlJit). */
  readonly compiled: TextCache<CompiledEntry>;
  /** Lifts the literals of a text not seen before into variables (../graphql/literals.ts). */
  readonly normalizer?: LiteralNormalizer | undefined;
  readonly limits: QueryLimits & { readonly timeoutMs: number };
  readonly consistencyHeader: string;
  /** CORS_ORIGINS: requests from these origins are yoga's (it adds their CORS headers). */
  readonly corsOrigins?: readonly string[] | undefined;
  readonly logger: Logger;
  /** Counts an answered operation as yoga's metrics plugin does, with how long it ran. */
  readonly observe?: ((document: DocumentNode, operationName: string | null | undefined, context: unknown, seconds: number) => void) | undefined;
  /** Counts each request the fast path took: answered here, or handed to yoga. */
  readonly counted?: ((outcome: 'answered' | 'yoga') => void) | undefined;
  /** Counts the codes of the errors in an answer (as yoga's answers are counted). */
  readonly countErrors?: ((codes: readonly string[], transport: 'http') => void) | undefined;
  /** Answers kept while the partitions they read are unchanged (./response-cache.ts). */
  readonly responses?: ResponseCache | undefined;
  /** Worker threads that run the queries, this thread answering what they hand back (./read-workers.ts). */
  readonly workers?: ReadWorkers | undefined;
}

/** What the fast path hands back when yoga must answer: the body it has read. */
export interface Fallback {
  readonly body: string;
  /**
   * The body with the query's literals as variables (./literals.ts), for a text whose
   * normalized form is not compiled yet: yoga answers it if it can without an error, else the
   * original body.
   */
  readonly normalized?: { readonly body: string; reject(): void };
}

export interface FastPath {
  /** Whether a request may take the fast path, from its method, path and headers alone. */
  accepts(request: IncomingMessage, path: string | undefined): boolean;
  /** Answers the request, or returns the body read so far for yoga to answer. */
  serve(request: IncomingMessage, response: ServerResponse, claims: Readonly<Record<string, unknown>> | undefined): Promise<Fallback | undefined>;
}

interface Prepared {
  readonly document: DocumentNode;
  readonly operationName: string | undefined;
  /**
   * Whether the operation is within the cost limit whatever its variables: true or false when no
   * variable decides its cost, undefined when the cost is checked per request.
   */
  readonly withinCost: boolean | undefined;
}

/** `application/json`, with or without parameters such as `charset`. */
const isJson = (value: string | undefined): boolean => value !== undefined && /^application\/json\s*(;|$)/i.test(value);

const GRAPHQL_RESPONSE = 'application/graphql-response+json';

/** `Accept` headers seen, with the media type answered for each ('' for yoga's). */
const answerTypes = new Map<string, string>();
const MAX_ANSWER_TYPES = 64;

/**
 * The media type yoga answers with for an `Accept` header, or undefined where the fast path
 * leaves the choice to yoga (an event stream, weights, anything else first).
 */
export function answerType(accept: string | undefined): string | undefined {
  if (accept === undefined) return 'application/json';
  const known = answerTypes.get(accept);
  if (known !== undefined) return known || undefined;
  const type = typeOf(accept);
  // Clients send a handful of distinct headers; a flood of distinct ones is not remembered.
  if (answerTypes.size < MAX_ANSWER_TYPES && accept.length <= 256) answerTypes.set(accept, type ?? '');
  return type;
}

function typeOf(accept: string): string | undefined {
  if (accept.trim() === '') return 'application/json';
  if (/;\s*q\s*=/i.test(accept)) return undefined;
  const first = accept.split(',')[0]!.split(';')[0]!.trim().toLowerCase();
  if (first === GRAPHQL_RESPONSE) return GRAPHQL_RESPONSE;
  return first === 'application/json' || first === '*/*' ? 'application/json' : undefined;
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.once('end', () => resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8')));
    request.once('error', reject);
  });
}

/** The single query operation of a document, or undefined. */
function singleQuery(document: DocumentNode, schema: GraphQLSchema, limits: QueryLimits): Prepared | undefined {
  if (document.definitions.filter((definition) => definition.kind === 'OperationDefinition').length !== 1) return undefined;
  const operation = getOperationAST(document);
  if (operation?.operation !== 'query') return undefined;
  const cost = fixedCost(schema, document, operation, limits);
  return { document, operationName: operation.name?.value, withinCost: cost === undefined ? undefined : cost <= limits.maxCost };
}

function isEmpty(object: object): boolean {
  for (const _ in object) return false;
  return true;
}

/** Whether yoga would answer this result differently than 200 with the result as it is. */
function needsYoga(result: ExecutionResult): boolean {
  return result.data === undefined || result.data === null || (result.errors ?? []).some((error) => error.extensions?.['http'] !== undefined);
}

/** A client error as yoga serializes it: no `http` or `unexpected` in its extensions. */
function serializeError(error: GraphQLError): unknown {
  const json = error.toJSON() as { extensions?: Record<string, unknown> };
  if (json.extensions) {
    const { http: _http, unexpected: _unexpected, ...extensions } = json.extensions;
    json.extensions = Object.keys(extensions).length > 0 ? extensions : undefined;
    if (!json.extensions) delete json.extensions;
  }
  return json;
}

export function createFastPath(options: FastPathOptions): FastPath {
  const listed = new Set(options.corsOrigins ?? []);
  // What yoga's browser policy (./browser.ts) adds to an answer for an origin outside the list.
  const vary: Record<string, string> = listed.size > 0 ? { vary: 'Origin' } : {};
  const prepared = new WeakMap<object, Prepared | null>();
  // Cost verdicts of normalized texts sent without variables, by the normalizer's result.
  const literalCosts = new WeakMap<Normalized, boolean>();
  const preparedOf = (document: unknown): Prepared | undefined => {
    if (document === null || typeof document !== 'object' || (document as DocumentNode).kind !== 'Document') return undefined;
    let entry = prepared.get(document);
    if (entry === undefined) {
      entry = singleQuery(document as DocumentNode, options.schema, options.limits) ?? null;
      prepared.set(document, entry);
    }
    return entry ?? undefined;
  };

  return {
    accepts(request, path) {
      const headers = request.headers;
      return (
        request.method === 'POST' &&
        path === '/graphql' &&
        (headers.origin === undefined || !listed.has(headers.origin)) &&
        isJson(headers['content-type']) &&
        answerType(headers.accept) !== undefined &&
        !tracingEnabled()
      );
    },

    async serve(request, response, claims) {
      const fallback = await answer(request, response, claims);
      if (fallback) options.counted?.('yoga');
      return fallback;
    },
  };

  async function answer(
    request: IncomingMessage,
    response: ServerResponse,
    claims: Readonly<Record<string, unknown>> | undefined,
  ): Promise<Fallback | undefined> {
    const body = await readBody(request);
    const responses = options.responses;
    const key =
      responses?.enabled && body.length <= MAX_KEY_CHARS && !wantsFresh(request.headers['cache-control'])
        ? answerKey(body, request, claims)
        : undefined;
    if (key !== undefined) {
      const started = performance.now();
      const kept = responses!.get(key);
      if (kept) {
        response.writeHead(200, { 'content-type': kept.contentType, 'content-length': kept.bytes.length, ...vary }).end(kept.bytes);
        options.observe?.(kept.document, kept.operationName, { transport: 'http' }, (performance.now() - started) / 1000);
        options.counted?.('answered');
        return undefined;
      }
    }
    let params: { query?: unknown; variables?: unknown; operationName?: unknown; extensions?: unknown };
    try {
      params = JSON.parse(body) as typeof params;
    } catch {
      return { body };
    }
    if (params === null || typeof params !== 'object' || typeof params.query !== 'string') return { body };
    const variables = params.variables ?? undefined;
    if (variables !== undefined && (variables === null || typeof variables !== 'object' || Array.isArray(variables))) return { body };
    let token: string | undefined = request.headers[options.consistencyHeader] as string | undefined;
    if (params.extensions !== undefined && params.extensions !== null) {
      const extensions = params.extensions as Record<string, unknown>;
      const names = typeof extensions === 'object' ? Object.keys(extensions) : ['?'];
      if (names.some((name) => name !== 'consistencyToken')) return { body };
      if (token === undefined && extensions.consistencyToken !== undefined) token = String(extensions.consistencyToken);
    }
    let query = params.query;
    let values = variables as Record<string, unknown> | undefined;
    let compiled = options.compiled.get(query);
    // A text not seen before may be one seen with other literals: run its normalized text, with
    // the literals as variables. Until that text is compiled, yoga answers it (and compiles it on
    // its second run); any answer with an error is yoga's, for the original text.
    const normalized = compiled ? undefined : options.normalizer?.normalize(query);
    if (normalized) {
      if (params.operationName != null && params.operationName !== normalized.operationName) return { body };
      query = normalized.text;
      values = { ...values, ...normalized.values };
      compiled = options.compiled.get(query);
      if (!compiled) {
        const rewritten = JSON.stringify({
          query,
          variables: values,
          operationName: params.operationName ?? undefined,
          extensions: params.extensions ?? undefined,
        });
        return { body, normalized: { body: rewritten, reject: normalized.reject } };
      }
    }
    const entry = compiled && preparedOf(options.documents.get(query));
    if (!compiled || !entry) return { body };
    if (params.operationName != null && params.operationName !== entry.operationName) return { body };
    if (entry.withinCost === false) return { body };
    if (entry.withinCost === undefined && !withinCost(entry, normalized, variables, values)) return { body };
    let required: ReturnType<typeof decodeToken> | undefined;
    try {
      required = token === undefined ? undefined : decodeToken(token);
    } catch {
      return { body };
    }
    const deadline = options.limits.timeoutMs > 0 ? Date.now() + options.limits.timeoutMs : undefined;
    const contentType = `${answerType(request.headers.accept)}; charset=utf-8`;
    const offered = options.workers?.offer({ query, variables: values, operationName: entry.operationName, token, claims, deadline });
    const done = offered && (await offered);
    if (done) {
      send(response, done.text, contentType);
      options.observe?.(entry.document, entry.operationName, { transport: 'http' }, done.seconds);
      keep(key, done.text, contentType, entry, done.freshness, done.seconds);
      return undefined;
    }
    const context: GraphQLContext = createContext(options.reader, required, options.hub, claims);
    if (deadline !== undefined) context.setDeadline(deadline);
    const started = performance.now();
    let result: ExecutionResult;
    try {
      result = await compiled.query(undefined, context, values);
    } catch {
      return { body };
    }
    const seconds = (performance.now() - started) / 1000;
    const errors = result.errors?.map((error) => toClientError(error, options.logger));
    const shaped: ExecutionResult = { data: result.data, ...(errors && errors.length > 0 ? { errors } : {}) };
    if (needsYoga(shaped) || (normalized && shaped.errors)) return { body };
    const extensions = freshnessExtensions(context);
    const text = shaped.errors
      ? JSON.stringify({ data: shaped.data, errors: shaped.errors.map(serializeError), extensions })
      : JSON.stringify({ data: shaped.data, extensions });
    options.observe?.(entry.document, entry.operationName, { transport: 'http' }, seconds);
    if (shaped.errors) options.countErrors?.(errorCodes(shaped.errors), 'http');
    send(response, text, contentType);
    if (!shaped.errors && Object.keys(context.stalled).length === 0) keep(key, text, contentType, entry, context.freshness, seconds);
    return undefined;
  }

  /**
   * Whether an operation whose cost its variables decide is within the limit for these values.
   * A normalized text sent without variables of its own has its literals' values alone, the same
   * each time the text comes: its verdict is kept by the normalizer's result for that text.
   */
  function withinCost(entry: Prepared, normalized: Normalized | undefined, variables: unknown, values: Record<string, unknown> | undefined): boolean {
    const literalsOnly = normalized !== undefined && (variables === undefined || isEmpty(variables as object));
    const kept = literalsOnly ? literalCosts.get(normalized) : undefined;
    if (kept !== undefined) return kept;
    const within = checkCost(options.schema, entry.document, entry.operationName, values ?? {}, options.limits) === undefined;
    if (literalsOnly) literalCosts.set(normalized, within);
    return within;
  }

  function send(response: ServerResponse, text: string, contentType: string): void {
    response.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(text), ...vary }).end(text);
    options.counted?.('answered');
  }

  /** Keeps an answer without errors or stalled partitions in the response cache. */
  function keep(
    key: string | undefined,
    text: string,
    contentType: string,
    entry: Prepared,
    freshness: GraphQLContext['freshness'],
    seconds: number,
  ): void {
    if (key === undefined) return;
    options.responses!.set(key, { text, contentType, document: entry.document, operationName: entry.operationName, freshness }, seconds * 1000);
  }

  /** What besides the body decides an answer: its media type, the consistency token, the caller. */
  function answerKey(body: string, request: IncomingMessage, claims: Readonly<Record<string, unknown>> | undefined): string {
    const token = request.headers[options.consistencyHeader];
    return `${answerType(request.headers.accept)}\u0000${typeof token === 'string' ? token : ''}\u0000${claims ? JSON.stringify(claims) : ''}\u0000${body}`;
  }
}

/**
 * What a browser may do with /graphql, as yoga options and plugins:
 *
 * - CORS by allow-list (CORS_ORIGINS): a request from a listed origin gets that origin echoed in
 *   `Access-Control-Allow-Origin`, with credentials allowed; any other origin gets no CORS header
 *   at all, so its page cannot read the answer. Every answer carries `Vary: Origin` when the list
 *   is not empty. Preflights (OPTIONS) are answered by yoga's CORS handling.
 * - CSRF prevention (`@graphql-yoga/plugin-csrf-prevention`): a request a browser may send
 *   cross-site without a preflight (a GET, or a POST without a content type) must carry
 *   `x-graphql-csrf` or `graphql-preflight` (any value): GW_HTTP_CSRF_REQUIRED, 403.
 * - POST bodies are JSON (or `application/graphql`): form-encoded, multipart and text/plain
 *   bodies, which a page may post cross-site without a preflight, are refused whatever their
 *   headers: GW_HTTP_UNSUPPORTED_MEDIA_TYPE, 415.
 * - A GET runs queries only: a subscription or mutation over GET is refused with
 *   GW_HTTP_METHOD_NOT_ALLOWED, 405 (SSE subscriptions are POSTs with `accept: text/event-stream`).
 *
 * Every refusal is a GraphQL error with its registry code in `extensions.code`.
 */
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { getOperationAST, GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ERRORS, type ErrorCode } from '../errors.ts';

/** Headers any one of which marks a request as sent by a script that passed a preflight. */
export const CSRF_HEADERS = ['x-graphql-csrf', 'graphql-preflight'] as const;

/** Request headers a listed origin may send (answered to preflights). */
const ALLOWED_HEADERS = ['accept', 'authorization', 'content-type', 'x-gw-consistency', ...CSRF_HEADERS];

/** Content types a browser may POST cross-site without a preflight. */
const SIMPLE_CONTENT_TYPES = ['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'];

/** yoga's CORS options for one request: only for a listed origin (yoga's `cors` option). */
export type CorsPolicy = (request: Request) =>
  | false
  | {
      origin: string;
      credentials: true;
      methods: string[];
      allowedHeaders: string[];
      maxAge: number;
    };

export interface BrowserPolicy {
  readonly cors: CorsPolicy;
  readonly plugins: Plugin[];
  /** CORS headers for an answer yoga never sees (refused in front of it): a listed origin's only. */
  headersFor(origin: string | undefined): Record<string, string>;
}

/** A request refusal: a GraphQL error with a registry code and the HTTP status yoga answers with. */
function refusal(code: ErrorCode, message: string, headers?: Record<string, string>): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code, retriable: ERRORS[code].retriable, http: { status: ERRORS[code].status, ...(headers ? { headers } : {}) } },
  });
}

/** The plugin's check, with its error replaced by the registry's. */
function csrfPlugin(): Plugin {
  const check = useCSRFPrevention({ requestHeaders: [...CSRF_HEADERS] }).onRequestParse!;
  return {
    onRequestParse(payload) {
      try {
        // The plugin's check is synchronous: it throws or returns nothing.
        void check(payload as Parameters<typeof check>[0]);
      } catch {
        throw refusal(
          'GW_HTTP_CSRF_REQUIRED',
          `a GET, or a POST without content-type, must carry the header ${CSRF_HEADERS.join(' or ')} (any value)`,
        );
      }
    },
  };
}

function jsonBodiesPlugin(): Plugin {
  return {
    onRequestParse({ request }) {
      if (request.method !== 'POST') return;
      const type = (request.headers.get('content-type') ?? '').toLowerCase();
      if (SIMPLE_CONTENT_TYPES.some((simple) => type.startsWith(simple))) {
        throw refusal('GW_HTTP_UNSUPPORTED_MEDIA_TYPE', `a GraphQL POST body must be application/json, not ${type.split(';')[0]}`);
      }
    },
  };
}

function queriesOnlyOverGet(): Plugin {
  return {
    onParse() {
      return ({ result, context }) => {
        const { request, params } = context as { request?: Request; params?: { operationName?: string | null } };
        if (request?.method !== 'GET' || !result || result instanceof Error) return;
        const operation = getOperationAST(result, params?.operationName ?? undefined)?.operation;
        if (operation !== undefined && operation !== 'query') {
          throw refusal('GW_HTTP_METHOD_NOT_ALLOWED', `a GET runs queries only; send a ${operation} as a POST`, { Allow: 'POST' });
        }
      };
    },
  };
}

function varyOnOrigin(): Plugin {
  return {
    onResponse({ response }) {
      const vary = response.headers.get('vary');
      if (!vary || !/(^|,)\s*origin\s*(,|$)/i.test(vary)) response.headers.set('vary', vary ? `${vary}, Origin` : 'Origin');
    },
  };
}

/** The browser policy for these allowed origins (exact `scheme://host[:port]` strings). */
export function browserPolicy(corsOrigins: readonly string[]): BrowserPolicy {
  const allowed = new Set(corsOrigins);
  const listed = (origin: string | null | undefined): origin is string => origin != null && allowed.has(origin);
  return {
    cors: (request) => {
      const origin = request.headers.get('origin');
      if (!listed(origin)) return false;
      return { origin, credentials: true, methods: ['GET', 'POST'], allowedHeaders: [...ALLOWED_HEADERS], maxAge: 600 };
    },
    plugins: [jsonBodiesPlugin(), csrfPlugin(), queriesOnlyOverGet(), ...(allowed.size > 0 ? [varyOnOrigin()] : [])],
    headersFor(origin): Record<string, string> {
      if (allowed.size === 0) return {};
      if (!listed(origin)) return { vary: 'Origin' };
      return { 'access-control-allow-origin': origin, 'access-control-allow-credentials': 'true', vary: 'Origin' };
    },
  };
}

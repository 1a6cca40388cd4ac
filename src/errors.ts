/**
 * The gateway's error registry: every error a client, an operator or a peer can see has a stable
 * code `GW_<AREA>_<PROBLEM>`, says whether retrying can help, and maps to an HTTP status at the
 * GraphQL boundary. Recovery code branches on `retriable` and `code`, never on message text.
 * The README's error table lists the same codes; `test/unit/errors.test.ts` keeps them in step.
 * One unit, longer than most files: the registry is one table on purpose, so every code is
 * unique and the README's table is checked against one list.
 */

export interface ErrorSpec {
  /** Whether the same request may succeed later without a change by the caller. */
  readonly retriable: boolean;
  /** HTTP status used when the error ends a request. */
  readonly status: number;
  /** One line for the README table. */
  readonly summary: string;
}

export const ERRORS = {
  GW_CONFIG_INVALID: {
    retriable: false,
    status: 500,
    summary: 'An environment variable is missing or malformed; the instance does not start.',
  },
  GW_KAFKA_AUTH_FAILED: {
    retriable: false,
    status: 500,
    summary:
      'The broker refused SASL authentication: wrong KAFKA_SASL_USERNAME or KAFKA_SASL_PASSWORD, or a KAFKA_SASL_MECHANISM the listener does not enable; the instance does not start.',
  },
  GW_KAFKA_TLS_FAILED: {
    retriable: false,
    status: 500,
    summary:
      "The TLS handshake with a broker failed: its certificate is not signed by KAFKA_TLS_CA_FILE (or a bundled CA), does not name the broker's host or KAFKA_TLS_SERVERNAME, the broker refused the client certificate, or the listener does not use TLS; the instance does not start.",
  },
  GW_VIEW_INVALID: {
    retriable: false,
    status: 500,
    summary: 'A view declaration is inconsistent (unknown field, relation target, index).',
  },
  GW_RECORD_MALFORMED: {
    retriable: false,
    status: 422,
    summary: 'A Kafka record is not a UTF-8 JSON object; it goes to the dead-letter topic.',
  },
  GW_RECORD_INVALID: {
    retriable: false,
    status: 422,
    summary:
      'A Kafka record does not match its view (missing field, wrong type, unknown enum value, key mismatch); it goes to the dead-letter topic.',
  },
  GW_RECORD_TOO_LARGE: {
    retriable: false,
    status: 422,
    summary: 'A Kafka record is larger than RECORD_MAX_BYTES; it goes to the dead-letter topic unread.',
  },
  GW_RECORD_WRONG_PARTITION: {
    retriable: false,
    status: 422,
    summary:
      'A Kafka record sits on another partition than its key maps to under KAFKA_PARTITIONER (its producer uses another partitioner); it goes to the dead-letter topic.',
  },
  GW_QUERY_BAD_ARGUMENT: {
    retriable: false,
    status: 400,
    summary: 'A query argument is out of range or contradictory (page size, both first and last, bad filter).',
  },
  GW_QUERY_BAD_CURSOR: {
    retriable: false,
    status: 400,
    summary: 'A cursor is not one this gateway issued for this connection and ordering.',
  },
  GW_QUERY_BAD_ID: {
    retriable: false,
    status: 400,
    summary: 'A global id does not decode to a known type and key.',
  },
  GW_QUERY_TOO_COMPLEX: {
    retriable: false,
    status: 400,
    summary: 'A request exceeds a size or shape limit: body size, tokens, depth, aliases, directives or root fields (`details.limit` names it).',
  },
  GW_QUERY_TOO_COSTLY: {
    retriable: false,
    status: 400,
    summary: 'A query would read more than MAX_QUERY_COST (fields times the page sizes of nested connections and lists).',
  },
  GW_QUERY_TIMEOUT: {
    retriable: true,
    status: 503,
    summary: 'A query ran past QUERY_TIMEOUT_MS and was cancelled.',
  },
  GW_QUERY_BAD_TOKEN: {
    retriable: false,
    status: 400,
    summary: 'A consistency token is malformed (see "Consistency tokens" in the README).',
  },
  GW_CONSISTENCY_TIMEOUT: {
    retriable: true,
    status: 504,
    summary: 'The partitions a query reads did not reach the offsets its consistency token requires within CONSISTENCY_WAIT_MS.',
  },
  GW_SUBSCRIPTION_LIMIT: {
    retriable: true,
    status: 429,
    summary:
      'A connection or the instance already has as many subscriptions as configured (SUBSCRIPTIONS_PER_CONNECTION, SUBSCRIPTIONS_PER_INSTANCE).',
  },
  GW_SUBSCRIPTION_OVERFLOW: {
    retriable: true,
    status: 503,
    summary: 'A subscriber fell further behind than SUBSCRIPTION_BUFFER events; it was cut off and resumes from the token in the error.',
  },
  GW_INSTANCE_STOPPING: {
    retriable: true,
    status: 503,
    summary:
      'The instance is shutting down: its subscriptions end with the token to resume from (details.token) on another instance, and new ones are refused.',
  },
  GW_RESUME_TOO_FAR: {
    retriable: false,
    status: 410,
    summary: 'More changes happened since a resume token than one catch-up may deliver; subscribe again without the token.',
  },
  GW_STORE_UNAVAILABLE: {
    retriable: true,
    status: 503,
    summary: 'The local store is not open (starting up or shutting down).',
  },
  GW_PARTITION_UNAVAILABLE: {
    retriable: true,
    status: 503,
    summary: 'A view partition needed by the query is not served by this instance yet.',
  },
  GW_PARTITION_RESTORING: {
    retriable: true,
    status: 503,
    summary: 'A partition was just assigned to an instance that is still catching up on it; callers read another copy or wait.',
  },
  GW_AUTH_REQUIRED: {
    retriable: false,
    status: 401,
    summary: 'Client authentication is configured and the request carries no bearer token.',
  },
  GW_AUTH_INVALID: {
    retriable: false,
    status: 401,
    summary:
      'The bearer token is malformed, uses an algorithm or a key that is not accepted, is wrongly signed, expired, not yet valid, or for another audience or issuer.',
  },
  GW_AUTH_UNAVAILABLE: {
    retriable: true,
    status: 503,
    summary: 'The keys a bearer token is checked against (CLIENT_JWKS_URL) could not be fetched or read, so the token was not checked; retry.',
  },
  GW_FIELD_FORBIDDEN: {
    retriable: false,
    status: 403,
    summary:
      'A field rule of the view denies the caller a non-nullable field it selected, or a field it filters or sorts by (a denied nullable field is null instead).',
  },
  GW_SCOPE_TOO_LARGE: {
    retriable: false,
    status: 403,
    summary:
      "A row rule that goes through a relation (`via`) would need more of the related view's keys than it may carry (1000) for this caller; the read is refused rather than cut short.",
  },
  GW_RATE_LIMITED: {
    retriable: true,
    status: 429,
    summary:
      'A client (its token subject, else its address) sent more GraphQL requests, subscribes or WebSocket connections than RATE_LIMIT_PER_SECOND and RATE_LIMIT_BURST allow; retry after Retry-After seconds.',
  },
  GW_DOCUMENT_NOT_TRUSTED: {
    retriable: false,
    status: 400,
    summary:
      'Trusted documents are on (TRUSTED_DOCUMENTS_FILE) and the request carries query text, or no document id; send the documentId of a registered document instead.',
  },
  GW_DOCUMENT_NOT_FOUND: {
    retriable: false,
    status: 400,
    summary: 'The documentId (or extensions.persistedQuery.sha256Hash) of a request is not in TRUSTED_DOCUMENTS_FILE.',
  },
  GW_INTROSPECTION_DISABLED: {
    retriable: false,
    status: 400,
    summary: 'A document selects __schema or __type while INTROSPECTION=false (__typename stays allowed).',
  },
  GW_METRICS_UNAUTHORIZED: {
    retriable: false,
    status: 401,
    summary: 'METRICS_TOKEN is set and a /metrics request lacks "Authorization: Bearer <METRICS_TOKEN>".',
  },
  GW_HTTP_CSRF_REQUIRED: {
    retriable: false,
    status: 403,
    summary:
      'A GraphQL GET, or a POST without a content type, lacks the header x-graphql-csrf or graphql-preflight (a browser cannot send it cross-site without a CORS preflight).',
  },
  GW_HTTP_UNSUPPORTED_MEDIA_TYPE: {
    retriable: false,
    status: 415,
    summary:
      'A GraphQL POST is form-encoded, multipart or text/plain (bodies a browser sends cross-site without a preflight); send application/json.',
  },
  GW_HTTP_METHOD_NOT_ALLOWED: {
    retriable: false,
    status: 405,
    summary:
      'A GraphQL GET carries a subscription or mutation; GET runs queries only (subscriptions: POST with accept text/event-stream, or WebSocket).',
  },
  GW_PEER_BAD_REQUEST: {
    retriable: false,
    status: 400,
    summary: 'A peer request is malformed (envelope, version, view or op); see src/peer/PROTOCOL.md.',
  },
  GW_PEER_UNAUTHORIZED: {
    retriable: false,
    status: 401,
    summary: 'A peer request has a missing or wrong signature, or its clock is too far off.',
  },
  GW_PEER_REPLAYED: {
    retriable: false,
    status: 401,
    summary: 'A signed peer request came again with a nonce already accepted within the clock-skew window; refused as a replay.',
  },
  GW_PEER_TOO_LARGE: {
    retriable: false,
    status: 413,
    summary: 'A peer request body is larger than the peer body limit (1 MiB); it was refused unread.',
  },
  GW_PEER_BUSY: {
    retriable: true,
    status: 503,
    summary: 'A peer holds as many unexpired request nonces as it may remember and refuses new requests until some expire; the caller retries.',
  },
  GW_PEER_NOT_OWNER: {
    retriable: true,
    status: 409,
    summary: 'A peer does not serve the requested partitions; the caller refreshes its partition map and retries once.',
  },
  GW_PEER_UNREACHABLE: {
    retriable: true,
    status: 502,
    summary: 'The instance that owns a partition could not be reached.',
  },
  GW_PEER_TIMEOUT: {
    retriable: true,
    status: 504,
    summary: 'The instance that owns a partition did not answer within PEER_TIMEOUT_MS.',
  },
  GW_PEER_BAD_RESPONSE: {
    retriable: true,
    status: 502,
    summary: 'A peer answered with data that fails validation (shape, partitions, order); it was not used.',
  },
  GW_INTERNAL_ERROR: {
    retriable: true,
    status: 500,
    summary: 'An unexpected failure; details are logged, not returned.',
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

export interface GatewayErrorOptions {
  cause?: unknown;
  /** Machine-readable facts for the client, copied into GraphQL `extensions`. */
  details?: Record<string, unknown>;
}

/** An expected failure with a registry code. Anything else reaching a client is masked. */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: GatewayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.retriable = ERRORS[code].retriable;
    this.status = ERRORS[code].status;
    this.details = options.details;
  }
}

export function isGatewayError(error: unknown): error is GatewayError {
  return error instanceof GatewayError;
}

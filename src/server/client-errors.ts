/**
 * What a client sees of an error, for every transport (HTTP, SSE, WebSocket): registry errors
 * keep their message and gain `extensions.code`, `retriable` and `details`; graphql-js's own
 * errors (syntax, validation, variable coercion) pass through; anything else is logged and
 * masked as GW_INTERNAL_ERROR.
 */
import { GraphQLError } from 'graphql';
import { isGatewayError } from '../errors.ts';
import type { Logger } from '../log.ts';

/**
 * graphql 16 ships CommonJS and ESM builds and a library may load the other one than this
 * module, so GraphQL errors are recognized by name, as yoga itself does, not by `instanceof`.
 */
export function isGraphQLError(error: unknown): error is GraphQLError {
  return error instanceof Error && error.name === 'GraphQLError';
}

/** The innermost error: GraphQL and Pothos wrap resolver errors, sometimes twice. */
function rootCause(error: unknown): unknown {
  let current = error;
  while (isGraphQLError(current) && current.originalError) current = current.originalError;
  return current;
}

export function toClientError(error: unknown, logger: Logger, maskedMessage = 'Unexpected error.'): GraphQLError {
  const original = rootCause(error);
  const located = isGraphQLError(error) ? error : undefined;
  if (isGatewayError(original)) {
    const extensions = {
      code: original.code,
      retriable: original.retriable,
      ...(original.details ? { details: original.details } : {}),
      // Failed before execution (e.g. a malformed consistency token): a request error.
      ...(located ? {} : { http: { status: original.status } }),
    };
    return new GraphQLError(original.message, {
      nodes: located?.nodes,
      source: located?.source,
      positions: located?.positions,
      path: located?.path,
      extensions,
    });
  }
  if (isGraphQLError(original)) return located ?? original;
  logger.error('unexpected error in request', { error: original });
  return new GraphQLError(maskedMessage, {
    nodes: located?.nodes,
    path: located?.path,
    extensions: { code: 'GW_INTERNAL_ERROR', retriable: true },
  });
}

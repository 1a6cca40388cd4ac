/**
 * INTROSPECTION=false: a document that selects `__schema` or `__type` fails validation with
 * GW_INTROSPECTION_DISABLED (`__typename` stays allowed: clients use it to tell types apart), and
 * graphql-js's "Did you mean ...?" suggestions are cut from error messages, which would otherwise
 * spell out field, argument, type and enum value names one guess at a time. Over HTTP this is a
 * yoga plugin; over WebSocket the same rule and the same message filter run in src/server/websocket.ts.
 *
 * `@graphql-yoga/plugin-disable-introspection` is not used: its error carries no registry code, and
 * it covers yoga only, not the graphql-ws endpoint.
 */
import { GraphQLError, type ExecutionResult, type ValidationRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ERRORS } from '../errors.ts';
import { isGraphQLError } from './client-errors.ts';

const INTROSPECTION_FIELDS = new Set(['__schema', '__type']);

/** The validation rule refusing `__schema` and `__type` anywhere in a document. */
export const NoIntrospectionRule: ValidationRule = (context) => ({
  Field(node) {
    if (!INTROSPECTION_FIELDS.has(node.name.value)) return;
    context.reportError(
      new GraphQLError(`introspection is turned off on this gateway; "${node.name.value}" cannot be queried`, {
        nodes: node,
        extensions: { code: 'GW_INTROSPECTION_DISABLED', retriable: ERRORS.GW_INTROSPECTION_DISABLED.retriable },
      }),
    );
  },
});

const SUGGESTION = /\s*Did you mean [^?]*\?/g;

/** The error without graphql-js's "Did you mean ...?" suggestions (itself when it has none). */
export function withoutSuggestions(error: GraphQLError): GraphQLError {
  if (!error.message.includes('Did you mean')) return error;
  return new GraphQLError(error.message.replace(SUGGESTION, ''), {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions: error.extensions,
  });
}

function filterResult(result: ExecutionResult): ExecutionResult | undefined {
  if (!result.errors?.some((error) => error.message.includes('Did you mean'))) return undefined;
  return { ...result, errors: result.errors.map(withoutSuggestions) };
}

/** The yoga side of INTROSPECTION=false: the rule, and no suggestions in validation or variable errors. */
export function noIntrospectionPlugin(): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(NoIntrospectionRule);
      return ({ result, setResult }) => {
        if (result.some((error) => error.message.includes('Did you mean'))) {
          setResult(result.map((error) => (isGraphQLError(error) ? withoutSuggestions(error) : error)));
        }
      };
    },
    onExecute() {
      return {
        onExecuteDone({ result, setResult }) {
          if (!result || Symbol.asyncIterator in result) return;
          const filtered = filterResult(result);
          if (filtered) setResult(filtered);
        },
      };
    },
    onSubscribe() {
      return {
        onSubscribeResult({ result, setResult }) {
          if (Symbol.asyncIterator in result) return;
          const filtered = filterResult(result);
          if (filtered) setResult(filtered);
        },
      };
    },
  };
}

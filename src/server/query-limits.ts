/**
 * The query limits as a yoga (Envelop) plugin, in request order:
 *
 *   parse     graphql's parser with the token limit (src/graphql/limits.ts)
 *   validate  the shape limits (depth, aliases, directives, root fields) before graphql-js's own
 *             rules; a document over them is refused without being validated
 *   execute   the cost limit, with the operation's variables; a query gets a deadline
 *             (QUERY_TIMEOUT_MS) that the routed reader checks before every read
 *   subscribe the cost limit, with the subscription's variables
 *
 * Yoga's caches of parsed documents and parse errors are bounded by the characters of text they
 * hold, not by a count of entries: a few hundred large hostile documents must not pin their parse
 * trees (about 80 bytes of heap per character) in memory.
 */
import type { DocumentNode, GraphQLError, GraphQLSchema } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { checkCost } from '../graphql/cost.ts';
import { checkShape, limitedParse, type QueryLimits } from '../graphql/limits.ts';
import { Lru } from '../lru.ts';

export interface QueryLimitsOptions extends QueryLimits {
  /** Milliseconds a query may run before it fails with GW_QUERY_TIMEOUT; 0 = no deadline. */
  readonly timeoutMs: number;
}

/** What the plugin needs of a request context: where the deadline goes. */
interface DeadlineCarrier {
  setDeadline?(epochMs: number): void;
}

/**
 * A cache of values by text, bounded by the total length of the texts kept (and by `maxEntries`);
 * a text longer than `maxEach` is never kept. Least recently used first out.
 */
export function createTextCache<T extends {}>(
  maxTotal: number,
  maxEach: number,
  maxEntries = 10_000,
): { get(key: string): T | undefined; set(key: string, value: T): void } {
  let total = 0;
  const entries = new Lru<string, T>(maxEntries, (key) => {
    total -= key.length;
  });
  return {
    get: (key) => entries.get(key),
    set(key, value) {
      if (key.length > maxEach || entries.has(key)) return;
      total += key.length;
      entries.set(key, value);
      while (total > maxTotal && entries.evictOldest());
    },
  };
}

/** The shape check per document, memoized: a cached document is checked once. */
function createShapeCheck(limits: QueryLimits): (document: DocumentNode) => readonly GraphQLError[] {
  const checked = new WeakMap<DocumentNode, readonly GraphQLError[]>();
  return (document) => {
    let errors = checked.get(document);
    if (!errors) {
      errors = checkShape(document, limits);
      checked.set(document, errors);
    }
    return errors;
  };
}

export function queryLimitsPlugin(schema: GraphQLSchema, options: QueryLimitsOptions): Plugin {
  const parse = limitedParse(options.maxTokens);
  const shape = createShapeCheck(options);
  return {
    onParse({ setParseFn }) {
      setParseFn((source) => parse(typeof source === 'string' ? source : source.body));
    },
    onValidate({ params, setResult }) {
      const errors = shape(params.documentAST);
      if (errors.length > 0) setResult([...errors]);
    },
    onExecute({ args, setResultAndStopExecution }) {
      const error = checkCost(schema, args.document, args.operationName, args.variableValues, options);
      if (error) {
        setResultAndStopExecution({ errors: [error] });
        return;
      }
      if (options.timeoutMs > 0) (args.contextValue as DeadlineCarrier).setDeadline?.(Date.now() + options.timeoutMs);
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const error = checkCost(schema, args.document, args.operationName, args.variableValues, options);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
  };
}

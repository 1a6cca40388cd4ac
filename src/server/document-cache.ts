/**
 * Parsed and validated GraphQL documents, shared by every request with the same query text.
 *
 * Thousands of subscriptions of one query would otherwise each hold their own parse tree (about
 * 80 bytes of heap per character of text, tokens included). Entries are keyed by the exact query
 * string; the result of validation depends only on the text, the schema and the rules, which are
 * fixed per cache, so validation errors are kept too. Nothing that depends on variables or on
 * `operationName` is kept: graphql-js coerces variables and picks the operation per execution.
 *
 * Bounds: at most `maxEntries` texts and `maxTotalLength` characters of text in all, the least
 * recently used dropped first; texts longer than `maxQueryLength` are parsed and validated on
 * every call and never kept. Syntax errors are thrown and never kept.
 */
import { parse as parseDocument, validate, type DocumentNode, type GraphQLError, type GraphQLSchema, type ValidationRule } from 'graphql';
import { Lru } from '../lru.ts';

export interface DocumentCacheOptions {
  readonly schema: GraphQLSchema;
  /** All validation rules, graphql's `specifiedRules` included. */
  readonly rules: readonly ValidationRule[];
  /** The parser (default graphql's `parse`), for example one with a token limit. */
  readonly parse?: (query: string) => DocumentNode;
  /** Checks run before validation; when they report errors, the document is not validated. */
  readonly precheck?: (document: DocumentNode) => readonly GraphQLError[];
  /** Most texts kept. Default 1,000. */
  readonly maxEntries?: number;
  /** Longer texts are never kept. Default 8,192 characters. */
  readonly maxQueryLength?: number;
  /** Most characters of text kept over all entries. Default 524,288 (about 40 MB of parse trees). */
  readonly maxTotalLength?: number;
}

export interface ValidatedDocument {
  /** Frozen (except `loc`) when it came from the cache: it is shared, never modify it. */
  readonly document: DocumentNode;
  /** Validation errors, as `validate` returned them; empty when the document is valid. */
  readonly errors: readonly GraphQLError[];
}

export interface DocumentCache {
  /**
   * The parsed and validated document of `query`. Returns the same object (and so the same
   * document and errors) for the same text while it stays cached. Throws graphql's syntax error
   * when the text does not parse.
   */
  load(query: string): ValidatedDocument;
  /** Texts currently kept. */
  readonly size: number;
}

export function createDocumentCache(options: DocumentCacheOptions): DocumentCache {
  const maxEntries = options.maxEntries ?? 1_000;
  const maxQueryLength = options.maxQueryLength ?? 8_192;
  const maxTotalLength = options.maxTotalLength ?? 512 * 1024;
  let totalLength = 0;
  const entries = new Lru<string, ValidatedDocument>(maxEntries, (query) => {
    totalLength -= query.length;
  });

  const parse = options.parse ?? ((query: string) => parseDocument(query));
  const compile = (query: string, shared: boolean): ValidatedDocument => {
    const document = parse(query);
    if (shared) deepFreeze(document);
    const refused = options.precheck?.(document) ?? [];
    const errors = refused.length > 0 ? [...refused] : validate(options.schema, document, options.rules);
    return Object.freeze({ document, errors: Object.freeze(errors) });
  };

  return {
    load(query) {
      const cached = entries.get(query);
      if (cached) return cached;
      if (query.length > maxQueryLength || query.length > maxTotalLength || maxEntries < 1) return compile(query, false);
      const loaded = compile(query, true);
      totalLength += query.length;
      entries.set(query, loaded);
      while (totalLength > maxTotalLength && entries.evictOldest());
      return loaded;
    },
    get size() {
      return entries.size;
    },
  };
}

/**
 * Freezes the AST nodes and their arrays. `loc` is left alone: it links the lexer's token list,
 * which graphql-js never modifies and which is long enough to make a walk expensive.
 */
function deepFreeze(value: object): void {
  for (const [key, child] of Object.entries(value)) {
    if (key !== 'loc' && typeof child === 'object' && child !== null) deepFreeze(child as object);
  }
  Object.freeze(value);
}

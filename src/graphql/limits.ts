/**
 * Limits on what one GraphQL document may ask, checked before it can cost much:
 *
 *   tokens       parse stops after `maxTokens` lexical tokens (graphql-js's own `maxTokens`)
 *   depth        nesting of fields, fragments followed; `__schema` / `__type` subtrees exempt, so
 *                introspection (GraphiQL, codegen) passes
 *   aliases      aliased fields, counted as executed (a fragment spread n times counts n times)
 *   directives   directive uses, counted the same way
 *   root fields  fields at the operation's root, through fragments
 *   breadth      fields of any one selection set, through fragments
 *   cost         fields executed times page sizes, with the variables (src/graphql/cost.ts)
 *
 * Why hand-written: the rules of GraphQL Armor and @pothos/plugin-complexity walk a fragment
 * again at every spread, so a document whose fragments each spread the next one twice costs 2^n
 * steps to check (a one-kilobyte document can freeze the event loop for seconds). Here every
 * fragment is measured once and its figures reused at each spread, so a check is linear in the
 * document, and it runs before validation (graphql-js's OverlappingFieldsCanBeMerged is quadratic
 * in the fields of a selection set and the fragments spread in it, so a document over the limits
 * must not reach it; the breadth limit keeps what reaches it small). Fragment
 * cycles measure as empty here; validation refuses them afterwards.
 */
import { GraphQLError, Kind, Lexer, Source, TokenKind, parse, type DocumentNode, type FragmentDefinitionNode, type SelectionSetNode } from 'graphql';

export interface QueryLimits {
  readonly maxTokens: number;
  readonly maxDepth: number;
  readonly maxAliases: number;
  readonly maxDirectives: number;
  readonly maxRootFields: number;
  /** Fields one selection set may select, through fragments. */
  readonly maxBreadth: number;
  readonly maxCost: number;
  /** Page size of a connection asked without `first` / `last`. */
  readonly defaultPageSize: number;
  /** Largest page a connection serves. */
  readonly maxPageSize: number;
}

const INTROSPECTION_ROOTS: ReadonlySet<string> = new Set(['__schema', '__type']);

export function tooComplex(limit: string, value: number, max: number, message: string): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: 'GW_QUERY_TOO_COMPLEX', retriable: false, details: { limit, value, max }, http: { status: 400 } },
  });
}

/**
 * Brackets, braces and parentheses a document may nest. graphql's parser recurses once per level
 * (a deep list literal overflows the stack long before the token limit); no query of the schema
 * needs more than a few dozen.
 */
export const MAX_NESTING = 128;

const OPENERS: ReadonlySet<string> = new Set([TokenKind.BRACE_L, TokenKind.BRACKET_L, TokenKind.PAREN_L]);
const CLOSERS: ReadonlySet<string> = new Set([TokenKind.BRACE_R, TokenKind.BRACKET_R, TokenKind.PAREN_R]);

/**
 * graphql's `parse`, after a pass of graphql's lexer that refuses a document with more than
 * `maxTokens` tokens or nested deeper than MAX_NESTING, with GW_QUERY_TOO_COMPLEX (HTTP 400).
 * Syntax errors are graphql's own.
 */
export function limitedParse(maxTokens: number): (source: string) => DocumentNode {
  return (source) => {
    const lexer = new Lexer(new Source(source));
    let tokens = 0;
    let nesting = 0;
    try {
      for (let token = lexer.advance(); token.kind !== TokenKind.EOF; token = lexer.advance()) {
        if (++tokens > maxTokens) throw tooComplex('tokens', tokens, maxTokens, `the document has more than ${maxTokens} tokens`);
        if (OPENERS.has(token.kind) && ++nesting > MAX_NESTING) {
          throw tooComplex('nesting', nesting, MAX_NESTING, `the document nests brackets more than ${MAX_NESTING} deep`);
        }
        if (CLOSERS.has(token.kind)) nesting--;
      }
    } catch (error) {
      if (error instanceof GraphQLError && error.extensions.code === 'GW_QUERY_TOO_COMPLEX') throw error;
      // A lexical error: the parser reports it in its own words.
    }
    return parse(source, { maxTokens });
  };
}

interface Shape {
  depth: number;
  aliases: number;
  directives: number;
  rootFields: number;
  /** The most fields any one selection set in it selects, through fragments. */
  breadth: number;
}

/** The document's fragment definitions by name. */
export function fragmentsOf(document: DocumentNode): Map<string, FragmentDefinitionNode> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  return fragments;
}

/** Measures selection sets, each fragment once. */
function createShapeMeter(fragments: ReadonlyMap<string, FragmentDefinitionNode>) {
  const measured = new Map<string, Shape>();
  const inProgress = new Set<string>();
  const empty: Shape = { depth: 0, aliases: 0, directives: 0, rootFields: 0, breadth: 0 };

  const fragment = (name: string): Shape => {
    const known = measured.get(name);
    if (known) return known;
    const definition = fragments.get(name);
    if (!definition || inProgress.has(name)) return empty;
    inProgress.add(name);
    const shape = selectionSet(definition.selectionSet);
    shape.directives += definition.directives?.length ?? 0;
    inProgress.delete(name);
    measured.set(name, shape);
    return shape;
  };

  /** `rootFields` counts the fields of this selection set itself, through fragments. */
  const selectionSet = (set: SelectionSetNode): Shape => {
    const shape: Shape = { depth: 0, aliases: 0, directives: 0, rootFields: 0, breadth: 0 };
    for (const selection of set.selections) {
      shape.directives += selection.directives?.length ?? 0;
      let inner: Shape;
      if (selection.kind === Kind.FIELD) {
        shape.rootFields += 1;
        if (selection.alias) shape.aliases += 1;
        if (!selection.selectionSet) {
          shape.depth = Math.max(shape.depth, 1);
          continue;
        }
        inner = selectionSet(selection.selectionSet);
        const exempt = INTROSPECTION_ROOTS.has(selection.name.value);
        shape.depth = Math.max(shape.depth, exempt ? 1 : 1 + inner.depth);
        shape.aliases += inner.aliases;
        shape.directives += inner.directives;
        shape.breadth = Math.max(shape.breadth, inner.breadth);
        continue;
      }
      inner = selection.kind === Kind.INLINE_FRAGMENT ? selectionSet(selection.selectionSet) : fragment(selection.name.value);
      shape.depth = Math.max(shape.depth, inner.depth);
      shape.aliases += inner.aliases;
      shape.directives += inner.directives;
      shape.rootFields += inner.rootFields;
      shape.breadth = Math.max(shape.breadth, inner.breadth);
    }
    shape.breadth = Math.max(shape.breadth, shape.rootFields);
    return shape;
  };
  return { selectionSet };
}

/**
 * The limits a document breaks, checked on its shape alone (no schema, no variables): depth,
 * aliases, directives and root fields of each operation. Linear in the document.
 */
export function checkShape(document: DocumentNode, limits: QueryLimits): GraphQLError[] {
  const meter = createShapeMeter(fragmentsOf(document));
  const errors: GraphQLError[] = [];
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    const shape = meter.selectionSet(definition.selectionSet);
    const name = definition.name ? ` ${definition.name.value}` : '';
    const directives = shape.directives + (definition.directives?.length ?? 0);
    if (shape.depth > limits.maxDepth) {
      errors.push(
        tooComplex(
          'depth',
          shape.depth,
          limits.maxDepth,
          `operation${name} is nested ${shape.depth} fields deep, over the limit of ${limits.maxDepth}`,
        ),
      );
    }
    if (shape.aliases > limits.maxAliases) {
      errors.push(
        tooComplex(
          'aliases',
          shape.aliases,
          limits.maxAliases,
          `operation${name} uses ${shape.aliases} aliases, over the limit of ${limits.maxAliases}`,
        ),
      );
    }
    if (directives > limits.maxDirectives) {
      errors.push(
        tooComplex(
          'directives',
          directives,
          limits.maxDirectives,
          `operation${name} uses ${directives} directives, over the limit of ${limits.maxDirectives}`,
        ),
      );
    }
    if (shape.breadth > limits.maxBreadth) {
      errors.push(
        tooComplex(
          'breadth',
          shape.breadth,
          limits.maxBreadth,
          `operation${name} selects ${shape.breadth} fields in one selection set, over the limit of ${limits.maxBreadth}`,
        ),
      );
    }
    if (shape.rootFields > limits.maxRootFields) {
      errors.push(
        tooComplex(
          'rootFields',
          shape.rootFields,
          limits.maxRootFields,
          `operation${name} selects ${shape.rootFields} root fields, over the limit of ${limits.maxRootFields}`,
        ),
      );
    }
  }
  return errors;
}

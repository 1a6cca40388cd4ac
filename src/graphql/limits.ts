/**
 * Limits on what one GraphQL document may ask, checked before it can cost much:
 *
 *   tokens       parse stops after `maxTokens` lexical tokens (graphql-js's own `maxTokens`)
 *   depth        nesting of fields, fragments followed; `__schema` / `__type` subtrees exempt, so
 *                introspection (GraphiQL, codegen) passes
 *   aliases      aliased fields, counted as executed (a fragment spread n times counts n times)
 *   directives   directive uses, counted the same way
 *   root fields  fields at the operation's root, through fragments
 *   cost         fields executed, each composite field multiplying its selection by its page size
 *                (`first` / `last`, else the default page size, at most the maximum), a list of
 *                ids by its length, and any other list by LIST_FACTOR; checked with the
 *                operation's variables, before it runs
 *
 * Why hand-written: the rules of GraphQL Armor and @pothos/plugin-complexity walk a fragment
 * again at every spread, so a document whose fragments each spread the next one twice costs 2^n
 * steps to check (a one-kilobyte document can freeze the event loop for seconds). Here every
 * fragment is measured once and its figures reused at each spread, so a check is linear in the
 * document, and it runs before validation (graphql-js's OverlappingFieldsCanBeMerged is quadratic
 * in the fields of a selection set, so a document over the limits must not reach it). Fragment
 * cycles measure as empty here; validation refuses them afterwards.
 */
import {
  GraphQLError,
  Kind,
  Lexer,
  Source,
  TokenKind,
  getNamedType,
  getNullableType,
  isCompositeType,
  isListType,
  parse,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';

export interface QueryLimits {
  readonly maxTokens: number;
  readonly maxDepth: number;
  readonly maxAliases: number;
  readonly maxDirectives: number;
  readonly maxRootFields: number;
  readonly maxCost: number;
  /** Page size of a connection asked without `first` / `last`. */
  readonly defaultPageSize: number;
  /** Largest page a connection serves. */
  readonly maxPageSize: number;
}

/** Estimated entries of a list field without a page size (relations such as `Order.payments`). */
export const LIST_FACTOR = 10;

const INTROSPECTION_ROOTS: ReadonlySet<string> = new Set(['__schema', '__type']);

function tooComplex(limit: string, value: number, max: number, message: string): GraphQLError {
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
}

function fragmentsOf(document: DocumentNode): Map<string, FragmentDefinitionNode> {
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
  const empty: Shape = { depth: 0, aliases: 0, directives: 0, rootFields: 0 };

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
    const shape: Shape = { depth: 0, aliases: 0, directives: 0, rootFields: 0 };
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
        continue;
      }
      inner = selection.kind === Kind.INLINE_FRAGMENT ? selectionSet(selection.selectionSet) : fragment(selection.name.value);
      shape.depth = Math.max(shape.depth, inner.depth);
      shape.aliases += inner.aliases;
      shape.directives += inner.directives;
      shape.rootFields += inner.rootFields;
    }
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
      errors.push(tooComplex('depth', shape.depth, limits.maxDepth, `operation${name} is nested ${shape.depth} fields deep, over the limit of ${limits.maxDepth}`));
    }
    if (shape.aliases > limits.maxAliases) {
      errors.push(tooComplex('aliases', shape.aliases, limits.maxAliases, `operation${name} uses ${shape.aliases} aliases, over the limit of ${limits.maxAliases}`));
    }
    if (directives > limits.maxDirectives) {
      errors.push(tooComplex('directives', directives, limits.maxDirectives, `operation${name} uses ${directives} directives, over the limit of ${limits.maxDirectives}`));
    }
    if (shape.rootFields > limits.maxRootFields) {
      errors.push(
        tooComplex('rootFields', shape.rootFields, limits.maxRootFields, `operation${name} selects ${shape.rootFields} root fields, over the limit of ${limits.maxRootFields}`),
      );
    }
  }
  return errors;
}

/** The operation `execute` would run: the named one, or the only one. */
export function selectOperation(document: DocumentNode, operationName: string | null | undefined): OperationDefinitionNode | undefined {
  let found: OperationDefinitionNode | undefined;
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    if (operationName ? definition.name?.value === operationName : !found) found = definition;
    else if (!operationName) return undefined;
  }
  return found;
}

/** An argument's value as a number or list length, from a literal or a variable. */
function argumentOf(node: ValueNode | undefined, variables: Readonly<Record<string, unknown>>): unknown {
  if (!node) return undefined;
  switch (node.kind) {
    case Kind.VARIABLE:
      return variables[node.name.value];
    case Kind.INT:
      return Number(node.value);
    case Kind.LIST:
      return node.values;
    default:
      return undefined;
  }
}

/**
 * The cost of running an operation with these variables (see the header). Linear in the document:
 * each fragment is costed once per place kind (inside a page or not).
 */
export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Readonly<Record<string, unknown>> | null | undefined,
  limits: Pick<QueryLimits, 'defaultPageSize' | 'maxPageSize'>,
): number {
  const values = variables ?? {};
  const fragments = fragmentsOf(document);
  const costed = new Map<string, number>();
  const inProgress = new Set<string>();

  const pageSize = (field: GraphQLField<unknown, unknown>, args: Map<string, ValueNode>): number | undefined => {
    const declared = new Set(field.args.map((arg) => arg.name));
    if (declared.has('first') || declared.has('last')) {
      const asked = argumentOf(args.get('first'), values) ?? argumentOf(args.get('last'), values);
      const size = typeof asked === 'number' && Number.isFinite(asked) ? asked : limits.defaultPageSize;
      return Math.max(0, Math.min(size, limits.maxPageSize));
    }
    if (declared.has('ids')) {
      const ids = argumentOf(args.get('ids'), values);
      return Array.isArray(ids) ? ids.length : 1;
    }
    return undefined;
  };

  const selectionSet = (set: SelectionSetNode, type: GraphQLCompositeType, inPage: boolean): number => {
    let total = 0;
    for (const selection of set.selections) {
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        const condition = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : type;
        if (condition && isCompositeType(condition)) total += selectionSet(selection.selectionSet, condition, inPage);
        continue;
      }
      if (selection.kind === Kind.FRAGMENT_SPREAD) {
        total += fragment(selection.name.value, inPage);
        continue;
      }
      total += 1;
      if (!selection.selectionSet || !('getFields' in type)) continue;
      const field = type.getFields()[selection.name.value];
      if (!field) continue;
      const named = getNamedType(field.type);
      if (!isCompositeType(named)) continue;
      const args = new Map((selection.arguments ?? []).map((arg) => [arg.name.value, arg.value]));
      const paged = pageSize(field, args);
      // A list inside a page (a connection's `edges`) is that page, not a further multiple.
      const multiplier = paged ?? (isListType(getNullableType(field.type)) && !inPage ? LIST_FACTOR : 1);
      total += multiplier * selectionSet(selection.selectionSet, named, paged !== undefined);
    }
    return total;
  };

  const fragment = (name: string, inPage: boolean): number => {
    const key = `${name}/${inPage}`;
    const known = costed.get(key);
    if (known !== undefined) return known;
    const definition = fragments.get(name);
    const type = definition && schema.getType(definition.typeCondition.name.value);
    if (!definition || !type || !isCompositeType(type) || inProgress.has(key)) return 0;
    inProgress.add(key);
    const cost = selectionSet(definition.selectionSet, type, inPage);
    inProgress.delete(key);
    costed.set(key, cost);
    return cost;
  };

  const root = schema.getRootType(operation.operation);
  return root ? selectionSet(operation.selectionSet, root, false) : 0;
}

/** The cost error, or undefined when the operation is within `maxCost`. */
export function checkCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Readonly<Record<string, unknown>> | null | undefined,
  limits: QueryLimits,
): GraphQLError | undefined {
  const operation = selectOperation(document, operationName);
  if (!operation) return undefined;
  const cost = operationCost(schema, document, operation, variables, limits);
  if (cost <= limits.maxCost) return undefined;
  return new GraphQLError(
    `operation${operation.name ? ` ${operation.name.value}` : ''} would cost ${cost} (fields times page sizes), over the limit of ${limits.maxCost}`,
    { extensions: { code: 'GW_QUERY_TOO_COSTLY', retriable: false, details: { cost, max: limits.maxCost }, http: { status: 400 } } },
  );
}

/**
 * The cost of an operation: the fields it would execute, each composite field multiplying its
 * selection by its page size (`first` / `last`, else the default page size, at most the
 * maximum), `nodes(ids:)` by the number of ids, and any other list by LIST_FACTOR. Computed with
 * the operation's variables, before it runs; linear in the document, since each fragment is
 * costed once per kind of place (inside a page or not) and reused at every spread (see
 * limits.ts for why the libraries that do this are not used).
 */
import {
  GraphQLError,
  Kind,
  getNamedType,
  getNullableType,
  isCompositeType,
  isListType,
  type DocumentNode,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';
import { fragmentsOf, type QueryLimits } from './limits.ts';

/** Estimated entries of a list field without a page size (relations such as `Order.payments`). */
export const LIST_FACTOR = 10;

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

/**
 * The cost of an operation when no variable decides it (no `first`, `last` or `ids` given as a
 * variable): the same for every request, so a caller may compute it once per document. Undefined
 * when a variable is read while costing.
 */
export function fixedCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  limits: Pick<QueryLimits, 'defaultPageSize' | 'maxPageSize'>,
): number | undefined {
  let read = false;
  const variables = new Proxy<Record<string, unknown>>(
    {},
    {
      get() {
        read = true;
        return undefined;
      },
    },
  );
  const cost = operationCost(schema, document, operation, variables, limits);
  return read ? undefined : cost;
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

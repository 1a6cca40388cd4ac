/**
 * Literals to variables: a query whose values are written into its text (`order(orderId: "o-7")`)
 * is a new document to every cache keyed by text, so each one would be parsed, validated and
 * run by graphql-js from scratch. This module sees through the literals: texts that differ only
 * in their Int, Float, String and ID literals (and in white space and comments) share one shape,
 * and a shape has one normalized text in which those literals are variables (`$_gw0`). The
 * normalized text is what gets parsed, validated and compiled once; each request brings its
 * literals as variable values.
 *
 * Hand-written because the maintained tools that hide literals (Apollo's and Hive's operation
 * signatures) produce a key for reporting, not a document that runs with the literals as values.
 *
 * A text is normalized only where the result is the same document for GraphQL:
 *
 * - one query operation (fragments allowed); the literals of field arguments, also inside list
 *   and input-object values, where the expected type is Int, Float, String or ID and the literal's
 *   kind is one that type's literal coercion accepts, so the variable's value coerces exactly as
 *   the literal would (an ID written as an Int becomes the string of its digits);
 * - literals elsewhere (directive arguments, variable defaults, enum and custom-scalar
 *   positions) stay in the shape: a text with another value there is another shape;
 * - a text that declares a name starting with `_gw` is left alone.
 *
 * A shape is learnt from its second text (the first only marks it seen), so a one-off document
 * costs one lexing pass and nothing more. What this cannot prove (an invalid document, a value
 * out of range) shows up as an error when the normalized text runs; the caller then answers the
 * original text instead (src/server/fast-path.ts).
 */
import {
  GraphQLID,
  GraphQLFloat,
  GraphQLInt,
  GraphQLString,
  getNamedType,
  Kind,
  Lexer,
  parse,
  Source,
  TokenKind,
  TypeInfo,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
  type GraphQLInputType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type ValueNode,
} from 'graphql';
import { Lru } from '../lru.ts';

/** A literal token of a text: its kind and its value as the lexer reads it. */
interface Literal {
  readonly kind: 'i' | 'f' | 's';
  readonly value: string;
}

/** What becomes of each literal of a shape, in text order. */
type Slot =
  /** A variable, with how its value is made from the literal's token. */
  | { readonly variable: string; readonly as: 'int' | 'float' | 'string' }
  /** Part of the shape: another value here is another shape. */
  | { readonly fixed: string };

interface Shape {
  readonly text: string;
  readonly operationName: string | undefined;
  readonly slots: readonly Slot[];
}

export interface Normalized {
  /** The normalized text: the shape's literals as variables. */
  readonly text: string;
  /** The operation's name in it (unchanged from the original). */
  readonly operationName: string | undefined;
  /** The literals' values by variable name. */
  readonly values: Readonly<Record<string, unknown>>;
  /** Stops normalizing texts of this shape (its normalized text does not run as the original). */
  reject(): void;
}

export interface LiteralNormalizer {
  /**
   * The normalized form of a query text, once its shape has been seen before; undefined for a
   * text with no literals to lift, a shape seen for the first time, or one that cannot be lifted.
   * The same text gives the same object again while its shape stays learnt, so a caller may keep
   * what it derives from the literals' values (a cost) by that object.
   */
  normalize(text: string): Normalized | undefined;
}

const VARIABLE_PREFIX = '_gw';

/**
 * Marks the server context of a normalized text's trial run through yoga: its errors are not the
 * client's answer (the original text is answered then), so they are not counted.
 */
export const NORMALIZED_TRIAL = Symbol('normalized-trial');

/** The shape key of a text (its tokens with literals as placeholders) and its literals. */
function tokenize(text: string): { key: string; literals: Literal[] } | undefined {
  const lexer = new Lexer(new Source(text));
  const parts: string[] = [];
  const literals: Literal[] = [];
  try {
    for (let token = lexer.advance(); token.kind !== TokenKind.EOF; token = lexer.advance()) {
      switch (token.kind) {
        case TokenKind.INT:
          literals.push({ kind: 'i', value: token.value });
          parts.push('\u0001i');
          break;
        case TokenKind.FLOAT:
          literals.push({ kind: 'f', value: token.value });
          parts.push('\u0001f');
          break;
        case TokenKind.STRING:
        case TokenKind.BLOCK_STRING:
          literals.push({ kind: 's', value: token.value });
          parts.push('\u0001s');
          break;
        case TokenKind.NAME:
          if (token.value.startsWith(VARIABLE_PREFIX)) return undefined;
          parts.push(token.value);
          break;
        default:
          parts.push(token.kind);
      }
    }
  } catch {
    return undefined; // a syntax error: yoga answers it
  }
  return literals.length === 0 ? undefined : { key: parts.join(' '), literals };
}

/** How a literal of this kind lifts into a variable where `type` is expected, or undefined. */
function liftAs(type: GraphQLInputType, kind: Literal['kind']): 'int' | 'float' | 'string' | undefined {
  switch (getNamedType(type).name) {
    case GraphQLInt.name:
      return kind === 'i' ? 'int' : undefined;
    case GraphQLFloat.name:
      return kind === 's' ? undefined : 'float';
    case GraphQLString.name:
      return kind === 's' ? 'string' : undefined;
    case GraphQLID.name:
      return kind === 'f' ? undefined : 'string';
    default:
      return undefined;
  }
}

const kindOf = (node: ValueNode): Literal['kind'] | undefined =>
  node.kind === Kind.INT ? 'i' : node.kind === Kind.FLOAT ? 'f' : node.kind === Kind.STRING ? 's' : undefined;

/** Learns the shape of a text: which literals lift into variables of which types. */
function learn(schema: GraphQLSchema, text: string, literals: readonly Literal[]): Shape | undefined {
  let document: DocumentNode;
  try {
    document = parse(text);
  } catch {
    return undefined;
  }
  const operations = document.definitions.filter(
    (definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION,
  );
  if (operations.length !== 1 || operations[0]!.operation !== 'query') return undefined;
  const operation = operations[0]!;

  const typeInfo = new TypeInfo(schema);
  const found: { start: number; end: number; kind: Literal['kind']; value: string; type: string; lift: 'int' | 'float' | 'string' | undefined }[] =
    [];
  let inDirective = 0;
  let inDefault = 0;
  const literal = (node: ValueNode): void => {
    const kind = kindOf(node);
    if (!kind || !node.loc) return;
    const type = inDirective === 0 && inDefault === 0 ? typeInfo.getInputType() : undefined;
    const lift = type ? liftAs(type, kind) : undefined;
    found.push({ start: node.loc.start, end: node.loc.end, kind, value: (node as { value: string }).value, type: String(type), lift });
  };
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Directive: { enter: () => void inDirective++, leave: () => void inDirective-- },
      VariableDefinition: { enter: () => void inDefault++, leave: () => void inDefault-- },
      IntValue: literal,
      FloatValue: literal,
      StringValue: literal,
    }),
  );
  found.sort((a, b) => a.start - b.start);
  // Every literal token must be one of the document's literal values, in the same order.
  if (found.length !== literals.length || found.some((entry, index) => entry.kind !== literals[index]!.kind)) return undefined;
  if (!found.some((entry) => entry.lift)) return undefined;

  const slots: Slot[] = [];
  const declarations: string[] = [];
  const lifts: { start: number; end: number; text: string }[] = [];
  for (const entry of found) {
    if (!entry.lift) {
      slots.push({ fixed: entry.value });
      continue;
    }
    const variable = `${VARIABLE_PREFIX}${declarations.length}`;
    declarations.push(`$${variable}: ${entry.type}`);
    slots.push({ variable, as: entry.lift });
    lifts.push({ start: entry.start, end: entry.end, text: `$${variable}` });
  }
  let normalized = '';
  let from = 0;
  for (const lift of lifts) {
    normalized += text.slice(from, lift.start) + lift.text;
    from = lift.end;
  }
  normalized += text.slice(from);
  /** An offset of the original text in the normalized one (replacements before it shift it). */
  const shift = (offset: number): number =>
    lifts.reduce((moved, lift) => (lift.start < offset ? moved + lift.text.length - (lift.end - lift.start) : moved), offset);

  // Declare the variables in the operation: after its last variable, else after its name, else
  // after the `query` keyword; a shorthand `{ ... }` becomes `query(...) { ... }`.
  const list = declarations.join(', ');
  const defined = operation.variableDefinitions ?? [];
  let at: number;
  let insert: string;
  if (defined.length > 0) {
    at = shift(defined[defined.length - 1]!.loc!.end);
    insert = `, ${list}`;
  } else if (operation.name) {
    at = shift(operation.name.loc!.end);
    insert = `(${list})`;
  } else if (text.startsWith('query', operation.loc!.start)) {
    at = shift(operation.loc!.start + 'query'.length);
    insert = `(${list})`;
  } else {
    at = shift(operation.loc!.start);
    insert = `query(${list}) `;
  }
  return {
    text: normalized.slice(0, at) + insert + normalized.slice(at),
    operationName: operation.name?.value,
    slots,
  };
}

/** The variable values of a text of this shape, or undefined where a fixed literal differs. */
function valuesOf(shape: Shape, literals: readonly Literal[]): Record<string, unknown> | undefined {
  const values: Record<string, unknown> = {};
  for (let index = 0; index < shape.slots.length; index++) {
    const slot = shape.slots[index]!;
    const literal = literals[index]!;
    if ('fixed' in slot) {
      if (slot.fixed !== literal.value) return undefined;
    } else {
      values[slot.variable] = slot.as === 'string' ? literal.value : Number(literal.value);
    }
  }
  return values;
}

/**
 * Texts whose normalized form is kept by the text itself, so that a text sent again (a grid's
 * query with its filter values written in) is not lexed again: at most this many, each at most
 * `EXACT_MAX_TEXT` characters (about a million characters in all).
 */
const EXACT_TEXTS = 256;
const EXACT_MAX_TEXT = 4096;

export interface NormalizerLimits {
  /** Longer texts are not normalized. */
  readonly maxText: number;
  /** The shapes kept, by the characters of their keys and normalized texts together. */
  readonly maxChars: number;
}

/**
 * A normalizer with a bounded store of shapes (least recently used first out). Each shape key
 * holds 'seen' after one text, then the learnt shape, or 'none' where it cannot be lifted.
 */
export function createLiteralNormalizer(schema: GraphQLSchema, limits: NormalizerLimits): LiteralNormalizer {
  let chars = 0;
  const size = (key: string, value: Shape | 'seen' | 'none'): number => key.length + (typeof value === 'object' ? value.text.length : 0);
  const entries = new Lru<string, Shape | 'seen' | 'none'>(Number.MAX_SAFE_INTEGER, (key, value) => {
    chars -= size(key, value);
  });
  const shapes = {
    get: (key: string) => entries.get(key),
    set(key: string, value: Shape | 'seen' | 'none') {
      const before = entries.get(key);
      if (before !== undefined) chars -= size(key, before);
      entries.set(key, value);
      chars += size(key, value);
      while (chars > limits.maxChars && entries.evictOldest());
    },
  };
  // By text: the shape key and shape each result came from, which must still be the learnt one.
  const exact = new Lru<string, { readonly key: string; readonly shape: Shape; readonly result: Normalized }>(EXACT_TEXTS);
  return {
    normalize(text) {
      if (text.length > limits.maxText) return undefined;
      const known = exact.get(text);
      if (known && shapes.get(known.key) === known.shape) return known.result;
      const tokens = tokenize(text);
      if (!tokens) return undefined;
      let shape = shapes.get(tokens.key);
      if (shape === undefined) {
        shapes.set(tokens.key, 'seen');
        return undefined;
      }
      if (shape === 'seen') {
        shape = learn(schema, text, tokens.literals) ?? 'none';
        shapes.set(tokens.key, shape);
      }
      if (shape === 'none') return undefined;
      const values = valuesOf(shape, tokens.literals);
      if (!values) return undefined;
      const key = tokens.key;
      const result: Normalized = {
        text: shape.text,
        operationName: shape.operationName,
        values: Object.freeze(values),
        reject: () => shapes.set(key, 'none'),
      };
      if (text.length <= EXACT_MAX_TEXT) exact.set(text, { key, shape, result });
      return result;
    },
  };
}

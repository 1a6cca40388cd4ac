import { buildSchema, execute, GraphQLError, getOperationAST, parse, specifiedRules, validate, type DocumentNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { checkShape, limitedParse, type QueryLimits } from '../../src/graphql/limits.ts';
import { createDocumentCache, type DocumentCacheOptions } from '../../src/server/document-cache.ts';

const schema = buildSchema(`
  type Query { a: Int, b: Int, node: Node }
  type Node { child: Node, id: ID }
`);
const rules = [...specifiedRules];
const LIMITS: QueryLimits = { maxTokens: 50, maxDepth: 3, maxAliases: 2, maxDirectives: 2, maxRootFields: 5, maxBreadth: 100, maxCost: 1000, defaultPageSize: 10, maxPageSize: 100 };
const cache = (options: Partial<DocumentCacheOptions> = {}) => createDocumentCache({ schema, rules, ...options });
const selectionsOf = (document: DocumentNode) => {
  const operation = document.definitions[0]!;
  if (!('selectionSet' in operation)) throw new Error('expected an operation first');
  return operation.selectionSet.selections;
};

describe('document cache', () => {
  it('gives the same frozen document, and validates once, for the same text', () => {
    let validations = 0;
    const counting = createDocumentCache({ schema, rules: [...rules, () => {
        validations++;
        return {};
      }] });
    const first = counting.load('{ a }');
    const second = counting.load('{ a }');
    expect(second.document).toBe(first.document);
    expect(second.errors).toEqual([]);
    expect(validations).toBe(1);
    expect(Object.isFrozen(first.document)).toBe(true);
    expect(Object.isFrozen(selectionsOf(first.document))).toBe(true);
    expect(Object.isFrozen(selectionsOf(first.document)[0])).toBe(true);
    // Any other text, even one that differs only in white space, is its own entry.
    expect(counting.load('{ a } ').document).not.toBe(first.document);
    expect(counting.size).toBe(2);
  });

  it('keeps validation errors and returns them for every load, as validate gives them', () => {
    const documents = cache();
    const query = '{ missing node { child { child { child { id } } } } }';
    const first = documents.load(query);
    const second = documents.load(query);
    expect(second).toBe(first);
    expect(first.errors.every((error) => error instanceof GraphQLError)).toBe(true);
    expect(first.errors.map((error) => error.toJSON())).toEqual(validate(schema, parse(query), rules).map((error) => error.toJSON()));
    expect(first.errors.map((error) => error.extensions['code'])).toEqual([undefined]);
    expect(first.errors[0]!.message).toBe('Cannot query field "missing" on type "Query".');
    expect(first.errors[0]!.locations).toEqual([{ line: 1, column: 3 }]);
  });

  it('refuses a document over the shape limits without validating it, and one over the token limit at parse', () => {
    let validations = 0;
    const documents = createDocumentCache({
      schema,
      rules: [...rules, () => {
        validations++;
        return {};
      }],
      parse: limitedParse(LIMITS.maxTokens),
      precheck: (document) => checkShape(document, LIMITS),
    });
    const deep = documents.load('{ missing node { child { child { child { id } } } } }');
    expect(deep.errors.map((error) => error.extensions['code'])).toEqual(['GW_QUERY_TOO_COMPLEX']);
    expect(validations).toBe(0);
    expect(documents.load('{ node { id } }').errors).toEqual([]);
    expect(validations).toBe(1);
    expect(() => documents.load(`{ ${'a '.repeat(60)}}`)).toThrow(/more than 50 tokens/);
  });

  it('throws syntax errors and does not keep them', () => {
    const documents = cache();
    expect(() => documents.load('{ a')).toThrow(GraphQLError);
    expect(() => documents.load('{ a')).toThrow(/Syntax Error/);
    expect(documents.size).toBe(0);
  });

  it('serves every operation of a shared document by operationName', async () => {
    const documents = cache();
    const query = 'query A { a } query B { b }';
    const document = documents.load(query).document;
    expect(documents.load(query).document).toBe(document);
    expect(getOperationAST(document, 'A')!.name!.value).toBe('A');
    expect(getOperationAST(document, 'B')!.name!.value).toBe('B');
    const rootValue = { a: 1, b: 2 };
    expect(await execute({ schema, document, rootValue, operationName: 'A' })).toEqual({ data: { a: 1 } });
    expect(await execute({ schema, document, rootValue, operationName: 'B' })).toEqual({ data: { b: 2 } });
  });

  it('drops the least recently used text beyond maxEntries', () => {
    const documents = cache({ maxEntries: 2 });
    const a = documents.load('{ a }').document;
    const b = documents.load('{ b }').document;
    expect(documents.load('{ a }').document).toBe(a); // now b is the least recently used
    documents.load('{ node { id } }');
    expect(documents.size).toBe(2);
    expect(documents.load('{ a }').document).toBe(a);
    expect(documents.load('{ b }').document).not.toBe(b);
  });

  it('does not keep texts longer than maxQueryLength', () => {
    const documents = cache({ maxQueryLength: 10 });
    const long = '{ a b node { id } }';
    const first = documents.load(long);
    expect(first.errors).toEqual([]);
    expect(documents.load(long).document).not.toBe(first.document);
    expect(Object.isFrozen(first.document)).toBe(false);
    expect(documents.size).toBe(0);
    expect(documents.load('{ a }').document).toBe(documents.load('{ a }').document);
  });

  it('keeps at most maxTotalLength characters of text, dropping the least recently used', () => {
    const documents = cache({ maxTotalLength: 12 });
    const a = documents.load('{ a }').document; // 5 characters
    const b = documents.load('{ b }').document; // 10
    documents.load('{ a b }'); // 17: '{ a }' goes, then 12 still fits
    expect(documents.size).toBe(2);
    expect(documents.load('{ b }').document).toBe(b);
    expect(documents.load('{ a }').document).not.toBe(a);
  });
});

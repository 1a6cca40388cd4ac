/**
 * A bounded fuzz of /graphql over a real socket (fast-check, fixed seed, 300 runs): random
 * strings, random nestings of braces and brackets, token soup, and documents built from the
 * schema's own field, argument and enum names, with random variables of bounded size, sent as
 * JSON POSTs and as GETs. The gateway never answers 5xx nor masks an unexpected error
 * (GW_INTERNAL_ERROR), /healthz answers throughout, and a normal query still answers after the run. A failure prints the seed and the shrunk counterexample; run
 * it again with FUZZ_SEED=<seed>.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { keyed, order } from '../support/data.ts';
import { useFixture } from '../support/fixture.ts';
import type { TestGateway } from '../support/gateway.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20_261_204);
const RUNS = 300;

interface Vocabulary {
  fields: string[];
  args: string[];
  enums: string[];
  inputTypes: string[];
}

interface Sent {
  method: 'POST' | 'GET';
  body: string;
}

describe('fuzzed GraphQL documents and variables', () => {
  const fx = useFixture('fuzz');
  let gw: TestGateway;
  let vocabulary: Vocabulary;

  beforeAll(async () => {
    gw = await fx.startGateway();
    await fx.produce(
      'orders',
      Array.from({ length: 30 }, (_, i) => keyed('orderId', order(i + 1))),
    );
    await fx.waitCaughtUp(gw, ['orders']);
    const { __schema } = await gw.query<{
      __schema: {
        types: Array<{
          name: string;
          kind: string;
          fields: Array<{ name: string; args: Array<{ name: string }> }> | null;
          enumValues: Array<{ name: string }> | null;
          inputFields: Array<{ name: string }> | null;
        }>;
      };
    }>('{ __schema { types { name kind fields { name args { name } } enumValues { name } inputFields { name } } } }');
    const own = __schema.types.filter((type) => !type.name.startsWith('__'));
    vocabulary = {
      fields: [...new Set(own.flatMap((type) => (type.fields ?? []).map((field) => field.name)))],
      args: [
        ...new Set(
          own.flatMap((type) => [
            ...(type.fields ?? []).flatMap((field) => field.args.map((arg) => arg.name)),
            ...(type.inputFields ?? []).map((f) => f.name),
          ]),
        ),
      ],
      enums: [...new Set(own.flatMap((type) => (type.enumValues ?? []).map((value) => value.name)))],
      inputTypes: own.filter((type) => ['INPUT_OBJECT', 'SCALAR', 'ENUM'].includes(type.kind)).map((type) => type.name),
    };
    expect(vocabulary.fields).toContain('ordersChanged');
  });

  /** The arbitraries, built from the schema's vocabulary. */
  const requests = (words: Vocabulary): fc.Arbitrary<Sent> => {
    const identifier = fc.oneof(fc.constantFrom(...words.fields), fc.stringMatching(/^[_A-Za-z][_0-9A-Za-z]{0,12}$/));
    const { value } = fc.letrec<{ value: string }>((tie) => ({
      value: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.integer().map(String),
        fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
        fc.string({ maxLength: 30 }).map((text) => JSON.stringify(text)),
        fc.constantFrom(...words.enums, 'true', 'false', 'null', '$id', '$n', '$filter', '$undeclared'),
        fc.array(tie('value'), { maxLength: 4 }).map((items) => `[${items.join(', ')}]`),
        fc
          .array(fc.tuple(fc.constantFrom(...words.args), tie('value')), { maxLength: 3 })
          .map((pairs) => `{ ${pairs.map(([k, v]) => `${k}: ${v}`).join(', ')} }`),
      ),
    }));
    const args = fc
      .array(fc.tuple(fc.constantFrom(...words.args), value), { minLength: 1, maxLength: 3 })
      .map((pairs) => `(${pairs.map(([k, v]) => `${k}: ${v}`).join(', ')})`);
    const { selection } = fc.letrec<{ selection: string; field: string }>((tie) => ({
      field: fc
        .tuple(
          fc.option(identifier, { nil: undefined }),
          identifier,
          fc.option(args, { nil: undefined }),
          fc.option(tie('selection'), { nil: undefined }),
        )
        .map(([alias, name, fieldArgs, inner]) => `${alias ? `${alias}: ` : ''}${name}${fieldArgs ?? ''}${inner ? ` ${inner}` : ''}`),
      selection: fc.oneof(
        { depthSize: 'small' },
        fc.array(tie('field'), { minLength: 1, maxLength: 4 }).map((fields) => `{ ${fields.join(' ')} }`),
        fc
          .tuple(fc.constantFrom(...words.inputTypes, 'Order', 'Customer', 'Node'), fc.array(tie('field'), { minLength: 1, maxLength: 2 }))
          .map(([on, fields]) => `{ ... on ${on} { ${fields.join(' ')} } }`),
      ),
    }));
    const variableDefinitions = fc
      .array(
        fc.tuple(
          fc.constantFrom('id', 'n', 'filter', 'after', 'x'),
          fc.constantFrom(...words.inputTypes, 'ID', 'Int', 'String', '[ID!]', 'Nope'),
          fc.boolean(),
        ),
        { maxLength: 3 },
      )
      .map((defs) => (defs.length === 0 ? '' : `(${defs.map(([name, type, required]) => `$${name}: ${type}${required ? '!' : ''}`).join(', ')})`));
    const structured = fc
      .tuple(fc.constantFrom('', 'query', 'subscription', 'mutation', 'query Q', 'fragment F on Order'), variableDefinitions, selection)
      .map(([keyword, defs, body]) => (keyword === '' ? body : `${keyword}${defs} ${body}`));
    const tokens = fc
      .array(
        fc.constantFrom(
          '{',
          '}',
          '[',
          ']',
          '(',
          ')',
          ':',
          '$',
          '!',
          '...',
          '@',
          '"',
          '"""',
          '#',
          ',',
          '=',
          '|',
          '&',
          ' ',
          '\n',
          'query',
          'on',
          'fragment',
          '1',
          '-1.5e9',
          ...words.fields.slice(0, 20),
        ),
        { maxLength: 150 },
      )
      .map((parts) => parts.join(' '));
    const nesting = fc
      .tuple(fc.integer({ min: 1, max: 3000 }), fc.constantFrom('{', '[', '('), fc.constantFrom('order', 'a', ''), fc.boolean())
      .map(([depth, open, word, closed]) => {
        const close = { '{': '}', '[': ']', '(': ')' }[open]!;
        return `${`${word} ${open}`.repeat(depth)}${closed ? close.repeat(depth) : ''}`;
      });
    // Valid documents whose variables are hostile: they reach the resolvers (cursors, ids, filters).
    const scalar = fc.oneof(
      fc.integer({ min: -2, max: 2_000_000 }),
      fc.string({ maxLength: 40 }),
      fc.constantFrom('ord-000007', 'T3JkZXI6b3JkLTAwMDAwNw', '2026-01-01T00:00:00Z', 'c1.e30', 'CREATED', '', null),
    );
    const matchInput = fc.record({ eq: scalar, in: fc.array(scalar, { maxLength: 5 }) }, { requiredKeys: [] });
    const rangeInput = fc.record({ gt: scalar, gte: scalar, lt: scalar, lte: scalar }, { requiredKeys: [] });
    const orderFilter = fc.oneof(
      fc.record(
        { state: matchInput, currency: matchInput, customerId: matchInput, createdAt: rangeInput, updatedAt: rangeInput },
        { requiredKeys: [] },
      ),
      fc.jsonValue({ maxDepth: 3 }),
    );
    const templated = fc.oneof(
      fc
        .record(
          {
            first: scalar,
            after: scalar,
            last: scalar,
            before: scalar,
            filter: orderFilter,
            field: fc.constantFrom('CREATED_AT', 'UPDATED_AT', 'ORDER_ID', 'NOPE'),
          },
          { requiredKeys: [] },
        )
        .map((vars) => ({
          query:
            'query($first: Int, $after: String, $last: Int, $before: String, $filter: OrderFilter, $field: OrderOrderField!) { orders(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: { field: $field }) { totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { orderId state customer { name } payments { paymentId } } } } }',
          variables: vars as Record<string, unknown>,
        })),
      fc.record({ id: scalar }).map((vars) => ({
        query: 'query($id: ID!) { order(orderId: $id) { orderId } node(id: $id) { id } }',
        variables: vars as Record<string, unknown>,
      })),
      fc
        .record({ ids: fc.array(scalar, { maxLength: 20 }) })
        .map((vars) => ({ query: 'query($ids: [ID!]!) { nodes(ids: $ids) { id } }', variables: vars as Record<string, unknown> })),
      fc.record({ first: scalar, after: scalar, filter: orderFilter }, { requiredKeys: [] }).map((vars) => ({
        query:
          'query($first: Int, $after: String, $filter: OrderFilter) { customers(first: 3) { edges { node { customerId orders(first: $first, after: $after, filter: $filter) { totalCount edges { node { orderId } } } } } } }',
        variables: vars as Record<string, unknown>,
      })),
    );
    const document = fc.oneof(
      { weight: 4, arbitrary: structured },
      { weight: 2, arbitrary: tokens },
      { weight: 2, arbitrary: fc.string({ maxLength: 200, unit: 'binary' }) },
      { weight: 1, arbitrary: nesting },
    );
    const variables = fc.oneof(
      { weight: 3, arbitrary: fc.constant(undefined) },
      {
        weight: 4,
        arbitrary: fc.dictionary(fc.constantFrom('id', 'n', 'filter', 'after', 'x', '__proto__'), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }),
      },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
    );
    const extensions = fc.option(
      fc.record({ consistencyToken: fc.oneof(fc.string({ maxLength: 40 }), fc.constant('c1.e30'), fc.jsonValue({ maxDepth: 1 })) }),
      { nil: undefined },
    );
    const random = fc
      .tuple(document, variables, fc.option(identifier, { nil: undefined }), extensions)
      .map(([query, vars, operationName, ext]) => ({ query, variables: vars, operationName, extensions: ext }));
    return fc
      .tuple(fc.oneof({ weight: 3, arbitrary: random }, { weight: 2, arbitrary: templated }), fc.nat(9))
      .map(([params, pick]): Sent => ({ method: pick < 8 ? 'POST' : 'GET', body: JSON.stringify(params) }));
  };

  /** Sends one request; its status and answer text. */
  const send = async ({ method, body }: Sent): Promise<{ status: number; text: string }> => {
    if (method === 'POST') {
      const response = await fetch(`${gw.url}/graphql`, {
        method,
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
        body,
      });
      return { status: response.status, text: await response.text() };
    }
    const params = JSON.parse(body) as Record<string, unknown>;
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      if (value !== undefined) search.set(key, typeof value === 'string' ? value : JSON.stringify(value));
    }
    const response = await fetch(`${gw.url}/graphql?${search}`, { headers: { accept: 'application/json', 'x-graphql-csrf': '1' } });
    return { status: response.status, text: await response.text() };
  };

  it(`never answers 5xx over ${RUNS} runs (seed ${SEED}), and stays healthy`, { timeout: 300_000 }, async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(requests(vocabulary), async (sent) => {
        run += 1;
        const { status, text } = await send(sent);
        if (status >= 500) throw new Error(`status ${status} for ${sent.method} ${sent.body.slice(0, 2000)}`);
        if (text.includes('GW_INTERNAL_ERROR'))
          throw new Error(`an unexpected error (${text.slice(0, 500)}) for ${sent.method} ${sent.body.slice(0, 2000)}`);
        if (run % 25 === 0) expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
      }),
      { seed: SEED, numRuns: RUNS, verbose: 1 },
    );
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
    expect(await gw.query('{ order(orderId: "ord-000007") { orderId } }')).toEqual({ order: { orderId: 'ord-000007' } });
  });
});

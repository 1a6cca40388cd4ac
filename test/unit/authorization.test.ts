import { graphql } from 'graphql';
import { describe, expect, it } from 'vitest';
import type { GatewayError } from '../../src/errors.ts';
import { createContext } from '../../src/graphql/context.ts';
import { buildSchema } from '../../src/graphql/schema.ts';
import { matchesNothing, NO_FILTER } from '../../src/query/filter.ts';
import { nothingOf, resolveScope, restrict, type RowScope, type ScopeReads } from '../../src/routing/authorization.ts';
import type { ViewReader } from '../../src/routing/reader.ts';
import type { Row } from '../../src/store/view-store.ts';
import type { Claims, ViewDeclaration } from '../../src/views/declaration.ts';
import { compileViews, type ViewModel } from '../../src/views/model.ts';
import customers from '../../views/customers.ts';
import orders from '../../views/orders.ts';
import payments from '../../views/payments.ts';
import { viewError } from '../support/views.ts';

const REFERENCE = [orders, customers, payments] as const;
const views = compileViews(REFERENCE);
const byId = (id: string, from: readonly ViewModel[] = views) => from.find((view) => view.id === id)!;

const CUSTOMER = { role: 'customer', customerId: 'cus-00003' };
const SUPPORT = { role: 'support' };
const ANALYST = { role: 'analyst', sub: 'ana' };

/** A small valid view to break one rule at a time; `orderId` relates it to the reference orders. */
function widget(overrides: Partial<ViewDeclaration> = {}): ViewDeclaration {
  return {
    name: 'Widget',
    plural: 'widgets',
    description: 'test view',
    topic: 'widgets',
    key: 'widgetId',
    fields: {
      widgetId: { type: 'id', description: 'key' },
      orderId: { type: 'id', description: 'order' },
      color: { type: 'string', description: 'color' },
      secret: { type: 'string', description: 'a required field with a rule' },
      hint: { type: 'string', nullable: true, description: 'a required field exposed as nullable' },
    },
    sortKeys: ['color'],
    filters: ['orderId', 'color'],
    relations: {
      order: { kind: 'one', view: 'orders', field: 'orderId', description: 'its order' },
      orders: { kind: 'many', view: 'orders', foreignField: 'customerId', as: 'list', description: 'many' },
      byColor: { kind: 'one', view: 'orders', field: 'color', description: 'color as an order key' },
    },
    ...overrides,
  };
}

describe('the reference rules', () => {
  it('customers and orders: a customer token sees its own rows, everyone else all', () => {
    for (const id of ['customers', 'orders']) {
      const rows = byId(id).authorization;
      expect(rows.hasRowRule).toBe(true);
      expect(rows.rows(undefined)).toEqual({ kind: 'all' });
      expect(rows.rows(SUPPORT)).toEqual({ kind: 'all' });
      expect(rows.rows(ANALYST)).toEqual({ kind: 'all' });
      expect(rows.rows({})).toEqual({ kind: 'all' });
      expect(rows.rows(CUSTOMER)).toEqual({ kind: 'filter', equals: [{ field: 'customerId', values: ['cus-00003'] }] });
      // A customer token without a customerId (or a malformed one) sees nothing.
      expect(rows.rows({ role: 'customer' })).toEqual({ kind: 'none' });
      expect(rows.rows({ role: 'customer', customerId: 42 })).toEqual({ kind: 'none' });
    }
  });

  it('payments go through their order', () => {
    const spec = byId('payments').authorization.rows(CUSTOMER);
    expect(spec).toMatchObject({ kind: 'via', field: 'orderId' });
    expect(spec.kind === 'via' && spec.relation.target).toBe(byId('orders'));
  });

  it('email: support, the customer itself and no claims see it; other callers do not', () => {
    const customersView = byId('customers');
    expect([...customersView.authorization.ruledFields]).toEqual(['email']);
    expect(customersView.fieldsByName.get('email')).toMatchObject({ required: true, nullable: true });
    const visible = (claims: Claims) => customersView.authorization.fieldVisible('email', claims);
    expect(visible(undefined)).toBe(true);
    expect(visible(SUPPORT)).toBe(true);
    expect(visible(CUSTOMER)).toBe(true);
    expect(visible(ANALYST)).toBe(false);
    expect(visible({})).toBe(false);
    expect(customersView.authorization.fieldVisible('name', ANALYST)).toBe(true);
  });

  it('views without rules see everything', () => {
    const [plain] = compileViews([widget({ relations: {} })]);
    expect(plain!.authorization.hasRowRule).toBe(false);
    expect(plain!.authorization.rows(CUSTOMER)).toEqual({ kind: 'all' });
    expect(plain!.authorization.fieldVisible('secret', undefined)).toBe(true);
  });
});

describe('declarations that cannot be enforced are refused with GW_VIEW_INVALID', () => {
  const cases: Array<[string, Partial<ViewDeclaration>]> = [
    ['via an unknown relation', { authorization: { rows: { via: 'nope' } } }],
    ['via a to-many relation', { authorization: { rows: { via: 'orders' } } }],
    ['via a relation whose field is not a filter (no `in` filter possible)', { filters: ['orderId'], authorization: { rows: { via: 'byColor' } } }],
    ['a row rule that is neither a function nor { via }', { authorization: { rows: 'all' as never } }],
    ['a { via } with more entries', { authorization: { rows: { via: 'order', also: 1 } as never } }],
    ['a row rule filtering on a field that is not a filter', { authorization: { rows: () => ({ secret: { eq: 'x' } }) } }],
    ['a row rule answering nonsense', { authorization: { rows: () => 'some' as never } }],
    ['a row rule with an operator beyond eq and in', { authorization: { rows: () => ({ color: { gt: 'a' } as never }) } }],
    ['a row rule with a non-scalar value', { authorization: { rows: () => ({ color: { eq: {} as never } }) } }],
    [
      'a row rule that throws for claims undefined',
      { authorization: { rows: (claims) => ((claims as Record<string, string>).role === 'x' ? 'all' : 'none') } },
    ],
    ['a field rule on an undeclared field', { authorization: { fields: { missing: () => true } } }],
    ['a field rule on the key', { authorization: { fields: { widgetId: () => true } } }],
    ['a field rule that is not a function', { authorization: { fields: { secret: true as never } } }],
    ['a field rule that does not return a boolean', { authorization: { fields: { secret: () => 'yes' as never } } }],
    ['an unknown authorization entry', { authorization: { columns: {} } as never }],
    [
      'an optional field declared non-nullable',
      { fields: { ...widget().fields, note: { type: 'string', required: false, nullable: false, description: 'x' } } },
    ],
  ];
  for (const [name, overrides] of cases) {
    it(name, () => {
      expect(viewError([...REFERENCE, widget(overrides)]).code).toBe('GW_VIEW_INVALID');
    });
  }

  it('via rules that lead back to their own view', () => {
    const a = widget({
      name: 'A',
      plural: 'as',
      relations: { b: { kind: 'one', view: 'bs', field: 'orderId', description: 'b' } },
      authorization: { rows: { via: 'b' } },
    });
    const b = widget({
      name: 'B',
      plural: 'bs',
      relations: { a: { kind: 'one', view: 'as', field: 'orderId', description: 'a' } },
      authorization: { rows: { via: 'a' } },
    });
    expect(viewError([a, b]).message).toMatch(/cycle/);
  });

  it('the same widget with enforceable rules is accepted', () => {
    const compiled = compileViews([
      ...REFERENCE,
      widget({ authorization: { rows: { via: 'order' }, fields: { secret: (claims) => claims?.role === 'support', hint: () => false } } }),
    ]);
    expect(byId('widgets', compiled).authorization.rows(CUSTOMER)).toMatchObject({ kind: 'via', field: 'orderId' });
  });

  it('a rule answering a bad filter for some claims fails that read with GW_VIEW_INVALID, never a wider answer', () => {
    const [view] = compileViews([widget({ relations: {}, authorization: { rows: (claims) => (claims ? { secret: { eq: 'x' } } : 'all') } })]);
    expect(() => view!.authorization.rows(SUPPORT)).toThrow(expect.objectContaining({ code: 'GW_VIEW_INVALID' }));
    // A field rule's non-true answer denies.
    const [other] = compileViews([widget({ relations: {}, authorization: { fields: { secret: (claims) => (claims ? ('yes' as never) : true) } } })]);
    expect(other!.authorization.fieldVisible('secret', SUPPORT)).toBe(false);
  });
});

describe('resolveScope', () => {
  const reads = (scopes: Record<string, RowScope>, keys: string[]): ScopeReads & { asked: number[] } => {
    const asked: number[] = [];
    return {
      asked,
      scopeOf: async (view) => scopes[view.id],
      visibleKeys: async (_view, limit) => {
        asked.push(limit);
        return keys.slice(0, limit);
      },
    };
  };

  it('turns the rule into a filter, none into a filter nothing matches', async () => {
    expect(await resolveScope(byId('orders'), undefined, reads({}, []))).toBeUndefined();
    expect(await resolveScope(byId('orders'), CUSTOMER, reads({}, []))).toEqual({
      equals: [{ field: 'customerId', values: ['cus-00003'] }],
      ranges: [],
    });
    const none = await resolveScope(byId('orders'), { role: 'customer' }, reads({}, []));
    expect(matchesNothing(none!)).toBe(true);
  });

  it('via: the related view visible keys become an `in` condition on the relation field', async () => {
    const ordersScope = { equals: [{ field: 'customerId', values: ['cus-00003'] }], ranges: [] };
    const scopeReads = reads({ orders: ordersScope }, ['ord-1', 'ord-2']);
    expect(await resolveScope(byId('payments'), CUSTOMER, scopeReads, 10)).toEqual({
      equals: [{ field: 'orderId', values: ['ord-1', 'ord-2'] }],
      ranges: [],
    });
    expect(scopeReads.asked).toEqual([11]);
    // The related view unrestricted: no restriction and no read; nothing visible there: nothing here.
    const open = reads({ orders: undefined }, ['ord-1']);
    expect(await resolveScope(byId('payments'), SUPPORT, open)).toBeUndefined();
    expect(open.asked).toEqual([]);
    expect(matchesNothing((await resolveScope(byId('payments'), CUSTOMER, reads({ orders: nothingOf('orderId') }, [])))!)).toBe(true);
    // No visible order: no visible payment.
    expect(matchesNothing((await resolveScope(byId('payments'), CUSTOMER, reads({ orders: ordersScope }, [])))!)).toBe(true);
  });

  it('via: more visible keys than the bound fail with GW_SCOPE_TOO_LARGE', async () => {
    const many = Array.from({ length: 12 }, (_, i) => `ord-${i}`);
    await expect(resolveScope(byId('payments'), CUSTOMER, reads({ orders: { equals: [], ranges: [] } }, many), 10)).rejects.toMatchObject({
      code: 'GW_SCOPE_TOO_LARGE',
    });
  });

  it('restrict AND-s the scope into a filter', () => {
    const filter = { equals: [{ field: 'state', values: ['CREATED'] }], ranges: [{ field: 'createdAt', lower: { value: 'a', inclusive: true } }] };
    expect(restrict(filter, undefined)).toBe(filter);
    expect(restrict(filter, { equals: [{ field: 'customerId', values: ['c'] }], ranges: [] })).toEqual({
      equals: [...filter.equals, { field: 'customerId', values: ['c'] }],
      ranges: filter.ranges,
    });
    expect(restrict(NO_FILTER, nothingOf('orderId')).equals).toEqual([{ field: 'orderId', values: [] }]);
  });
});

describe('field rules in GraphQL', () => {
  const declared = widget({
    relations: {},
    authorization: { fields: { secret: (claims) => claims?.role === 'support', hint: (claims) => claims?.role === 'support' } },
  });
  const [view] = compileViews([declared]);
  const schema = buildSchema([view!], { defaultPageSize: 10, maxPageSize: 50 });
  const row: Row = { widgetId: 'w-1', orderId: 'ord-1', color: 'red', secret: 's3cret', hint: 'h' };
  const reader = {
    views: [view!],
    view: () => view!,
    lookup: async (_id: string, keys: readonly string[]) => keys.map((key) => (key === 'w-1' ? row : undefined)),
    pages: async (_id: string, requests: readonly unknown[]) =>
      requests.map(() => ({ rows: [{ key: 'w-1', sortValue: 'red', row, partition: 0 }], hasNextPage: false, hasPreviousPage: false })),
    count: async () => 1,
    related: async () => new Map(),
    scope: async () => undefined,
  } as unknown as ViewReader;
  const run = (source: string, claims: Claims) => graphql({ schema, source, contextValue: createContext(reader, undefined, undefined, claims) });

  it('a denied nullable field is null; a denied non-null field fails with GW_FIELD_FORBIDDEN', async () => {
    expect(await run('{ widget(widgetId: "w-1") { color hint secret } }', SUPPORT)).toEqual({
      data: { widget: { color: 'red', hint: 'h', secret: 's3cret' } },
    });
    const nullable = await run('{ widget(widgetId: "w-1") { color hint } }', ANALYST);
    expect(nullable).toEqual({ data: { widget: { color: 'red', hint: null } } });
    const denied = await run('{ widget(widgetId: "w-1") { color secret } }', ANALYST);
    // The error nulls the nearest nullable parent: the lookup.
    expect(denied.data).toEqual({ widget: null });
    expect(denied.errors?.[0]?.path).toEqual(['widget', 'secret']);
    expect((denied.errors?.[0]?.originalError as GatewayError | undefined)?.code).toBe('GW_FIELD_FORBIDDEN');
  });

  it('the same in connections, and filtering or sorting by a denied field is refused', async () => {
    const grid = await run('{ widgets(first: 5) { totalCount edges { node { widgetId hint } } } }', ANALYST);
    expect(grid).toEqual({ data: { widgets: { totalCount: 1, edges: [{ node: { widgetId: 'w-1', hint: null } }] } } });
    const ruledFilter = compileViews([
      widget({ relations: {}, filters: ['orderId', 'color'], authorization: { fields: { color: (claims) => claims?.role === 'support' } } }),
    ])[0]!;
    const colorSchema = buildSchema([ruledFilter], { defaultPageSize: 10, maxPageSize: 50 });
    const colorReader = { ...reader, views: [ruledFilter], view: () => ruledFilter } as ViewReader;
    const runColor = (source: string, claims: Claims) =>
      graphql({ schema: colorSchema, source, contextValue: createContext(colorReader, undefined, undefined, claims) });
    for (const source of ['{ widgets(first: 5, filter: { color: { eq: "red" } }) { totalCount } }', '{ widgets(first: 5) { totalCount } }']) {
      // The second sorts by color, the first sort key, by default: its cursors would carry colors.
      const refused = await runColor(source, ANALYST);
      expect((refused.errors?.[0]?.originalError as GatewayError | undefined)?.code).toBe('GW_FIELD_FORBIDDEN');
      expect((await runColor(source, SUPPORT)).errors).toBeUndefined();
    }
    expect((await runColor('{ widgets(first: 5, orderBy: { field: WIDGET_ID }) { totalCount } }', ANALYST)).errors).toBeUndefined();
  });
});

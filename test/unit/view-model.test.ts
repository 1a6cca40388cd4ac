import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../src/config.ts';
import type { ViewDeclaration } from '../../src/views/declaration.ts';
import { compileViews, findIndex, loadViewDeclarations, type ViewModel } from '../../src/views/model.ts';
import customers from '../../views/customers.ts';
import orders from '../../views/orders.ts';
import payments from '../../views/payments.ts';
import { viewError } from '../support/views.ts';

const REFERENCE = [orders, customers, payments] as const;

function byId(views: readonly ViewModel[], id: string): ViewModel {
  const found = views.find((view) => view.id === id);
  if (!found) throw new Error(`no view ${id}`);
  return found;
}

/** A small valid declaration to break one thing at a time. */
function widget(overrides: Partial<ViewDeclaration> = {}): ViewDeclaration {
  return {
    name: 'Widget',
    plural: 'widgets',
    description: 'test view',
    topic: 'widgets',
    key: 'widgetId',
    fields: {
      widgetId: { type: 'id', description: 'key' },
      color: { type: 'string', description: 'color' },
      size: { type: 'int', description: 'size' },
      note: { type: 'string', description: 'optional', required: false },
      shiny: { type: 'boolean', description: 'flag' },
    },
    sortKeys: ['size'],
    filters: ['color'],
    ...overrides,
  };
}

describe('compileViews on the reference views', () => {
  it('compiles them with resolved relations', () => {
    const views = compileViews(REFERENCE, 'dev.');
    expect(views.map((view) => view.id)).toEqual(['orders', 'customers', 'payments']);
    const ordersView = byId(views, 'orders');
    expect(ordersView.name).toBe('Order');
    expect(ordersView.topic).toBe('dev.orders');
    expect(ordersView.keyField).toBe('orderId');
    expect(ordersView.replicated).toBe(false);
    expect(ordersView.sortFields).toEqual(['createdAt', 'updatedAt', 'orderId']);
    expect(ordersView.filters).toEqual(['state', 'customerId', 'currency']);
    // id-typed filters (foreign keys) keep no per-value counters
    expect(ordersView.countedFilters).toEqual(['state', 'currency']);
    expect(byId(views, 'customers').countedFilters).toEqual(['tier', 'country']);
    expect(byId(views, 'payments').countedFilters).toEqual(['status']);
    expect(ordersView.fieldsByName.get('state')?.enumValues).toEqual(new Set(['CREATED', 'VALIDATED', 'FAILED', 'SHIPPED', 'CANCELLED']));
    expect(ordersView.fieldsByName.get('currency')?.pattern?.test('EUR')).toBe(true);
    expect(ordersView.fields.every((field) => field.required)).toBe(true);
    expect(Object.fromEntries(ordersView.relations.map((relation) => [relation.name, relation.target.id]))).toEqual({
      customer: 'customers',
      payments: 'payments',
    });
    expect(byId(views, 'customers').relations[0]?.target).toBe(ordersView);
    expect(byId(views, 'payments').relations[0]?.target).toBe(ordersView);
  });

  it('derives one plain index per sort key, one per id-typed filter × (sort keys + key), one per enum filter × sort key', () => {
    for (const view of compileViews(REFERENCE)) {
      const declaration = view.declaration;
      const selective = declaration.filters.filter((filter) => !view.countedFilters.includes(filter));
      const expected = [
        ...declaration.sortKeys.map((sort) => ({ filters: [] as string[], sort })),
        ...selective.flatMap((filter) => [...declaration.sortKeys, declaration.key].map((sort) => ({ filters: [filter], sort }))),
        ...view.countedFilters
          .filter((filter) => view.fieldsByName.get(filter)!.enumValues !== undefined)
          .flatMap((filter) => declaration.sortKeys.map((sort) => ({ filters: [filter], sort }))),
      ];
      expect(view.indexes.map(({ filters, sort }) => ({ filters, sort }))).toEqual(expected);
      expect(view.indexes.map((index) => index.id)).toEqual(expected.map((_, i) => i + 1));
      expect(view.indexedFields).toEqual([...new Set([...declaration.filters, ...declaration.sortKeys])]);
    }
    const ordersView = byId(compileViews(REFERENCE), 'orders');
    expect(ordersView.indexes).toHaveLength(7);
    expect(findIndex(ordersView, 'state', 'createdAt')).toEqual({ id: 6, filters: ['state'], sort: 'createdAt' });
    expect(findIndex(ordersView, 'currency', 'createdAt')).toBeUndefined();
    expect(ordersView.countedFilters).toEqual(['state', 'currency']);
    expect(ordersView.counterSets).toEqual([['state'], ['currency'], ['state', 'currency']]);
    expect(findIndex(ordersView, undefined, 'createdAt')).toEqual({ id: 1, filters: [], sort: 'createdAt' });
    expect(findIndex(ordersView, 'customerId', 'orderId')).toEqual({ id: 5, filters: ['customerId'], sort: 'orderId' });
    expect(findIndex(ordersView, 'state', 'updatedAt')).toEqual({ id: 7, filters: ['state'], sort: 'updatedAt' });
    expect(findIndex(ordersView, 'state', 'orderId')).toBeUndefined();
    // the key order without a filter reads the rows, not an index
    expect(findIndex(ordersView, undefined, 'orderId')).toBeUndefined();
  });

  it('compiles a replicated view without relations', () => {
    const [view] = compileViews([widget({ placement: 'replicated' })]);
    expect(view?.replicated).toBe(true);
    expect(view?.relations).toEqual([]);
    expect(view?.fieldsByName.get('note')?.required).toBe(false);
  });
});

describe('compileViews rejects inconsistent declarations with GW_VIEW_INVALID', () => {
  const cases: Array<[string, () => ViewDeclaration[]]> = [
    ['undeclared key', () => [widget({ key: 'missingId' })]],
    ['key of a non-string type', () => [widget({ key: 'size', sortKeys: [] })]],
    ['undeclared sort key', () => [widget({ sortKeys: ['weight'] })]],
    ['undeclared filter', () => [widget({ filters: ['shape'] })]],
    ['boolean indexed field', () => [widget({ filters: ['shiny'] })]],
    ['optional indexed field', () => [widget({ sortKeys: ['note'] })]],
    ['the key listed in sortKeys', () => [widget({ sortKeys: ['size', 'widgetId'] })]],
    [
      'enum without values',
      () => [widget({ fields: { ...widget().fields, kind: { type: { enum: 'Kind', values: [], description: 'k' }, description: 'k' } } })],
    ],
    ['bad type name', () => [widget({ name: 'widget' })]],
    ['bad plural', () => [widget({ plural: 'Widgets' })]],
    ['duplicate view id', () => [widget(), widget({ name: 'Gadget' })]],
    ['duplicate type name', () => [widget(), widget({ plural: 'gadgets' })]],
    ['relation to an unknown view', () => [widget({ relations: { owner: { kind: 'one', view: 'owners', field: 'color', description: 'x' } } })]],
    [
      'one-relation over an undeclared field',
      () => [...REFERENCE, widget({ relations: { order: { kind: 'one', view: 'orders', field: 'orderId', description: 'x' } } })],
    ],
    [
      'many-relation whose foreign field is not a filter of the target',
      () => [
        ...REFERENCE,
        widget({ relations: { orders: { kind: 'many', view: 'orders', foreignField: 'product', as: 'list', description: 'x' } } }),
      ],
    ],
    [
      'relation named like a field',
      () => [...REFERENCE, widget({ relations: { color: { kind: 'one', view: 'orders', field: 'color', description: 'x' } } })],
    ],
  ];

  for (const [name, declarations] of cases) {
    it(name, () => {
      expect(viewError(declarations()).code).toBe('GW_VIEW_INVALID');
    });
  }

  it('a relation target missing from the set fails even if the view exists elsewhere', () => {
    // orders relate to customers and payments; compiling orders alone cannot resolve them
    expect(viewError([orders]).code).toBe('GW_VIEW_INVALID');
  });

  it('the same widget is valid before it is broken (the cases above fail for their own reason)', () => {
    expect(() => compileViews([...REFERENCE, widget()])).not.toThrow();
  });
});

describe('declared indexes', () => {
  const indexed = (indexes: unknown, filters: string[] = ['color', 'size', 'widgetId']): ViewDeclaration[] => [
    widget({ filters, indexes: indexes as ViewDeclaration['indexes'] }),
  ];

  it('adds one index per declared sort key after the automatic ones', () => {
    const [view] = compileViews(indexed([['color', 'size'], ['color']]));
    expect(view!.indexes.map(({ id, filters, sort }) => [id, filters.join('+'), sort])).toEqual([
      [1, '', 'size'],
      [2, 'widgetId', 'size'],
      [3, 'widgetId', 'widgetId'],
      [4, 'color+size', 'size'],
      [5, 'color', 'size'],
    ]);
    expect(findIndex(view!, 'color', 'size')?.id).toBe(5);
  });

  const cases: Array<[string, unknown, RegExp]> = [
    ['a field that is not a filter', [['color', 'note']], /indexes\[0\]: note is not one of the view's filters/],
    ['a field named twice', [['color', 'color']], /indexes\[0\] names a field twice/],
    ['no field', [[]], /indexes\[0\] must list 1 to 3 filter fields/],
    ['four fields', [['color', 'size', 'widgetId', 'color']], /indexes\[0\] must list 1 to 3 filter fields/],
    ['an id filter alone (indexed already)', [['widgetId']], /indexes\[0\] \(widgetId\) is indexed already/],
    [
      'the same combination twice, in another order',
      [
        ['color', 'size'],
        ['size', 'color'],
      ],
      /indexes\[1\] \(size, color\) is indexed already/,
    ],
    ['not a list', 'color', /indexes must be a list of field lists/],
    ['a list of strings', ['color'], /indexes\[0\] must list 1 to 3 filter fields/],
    ['nine combinations', Array.from({ length: 9 }, () => ['color']), /at most 8 indexes may be declared/],
  ];
  for (const [name, indexes, message] of cases) {
    it(`rejects ${name} with GW_VIEW_INVALID`, () => {
      const error = viewError(indexed(indexes));
      expect(error.code).toBe('GW_VIEW_INVALID');
      expect(error.message).toMatch(message);
    });
  }
});

describe('loadViewDeclarations', () => {
  let dir: string | undefined;

  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('loads the three reference views from views/', async () => {
    const declarations = await loadViewDeclarations(path.join(REPO_ROOT, 'views'));
    expect(declarations).toHaveLength(3);
    expect(declarations.map((declaration) => declaration.plural).sort()).toEqual(['customers', 'orders', 'payments']);
    expect(compileViews(declarations)).toHaveLength(3);
  });

  it('throws GW_VIEW_INVALID for an empty directory', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gw-views-'));
    await expect(loadViewDeclarations(dir)).rejects.toMatchObject({ code: 'GW_VIEW_INVALID' });
  });

  it('throws GW_VIEW_INVALID for a missing directory', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gw-views-'));
    await expect(loadViewDeclarations(path.join(dir, 'nope'))).rejects.toMatchObject({ code: 'GW_VIEW_INVALID' });
  });
});

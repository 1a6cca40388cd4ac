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
        ...declaration.sortKeys.map((sort) => ({ filter: undefined, sort })),
        ...selective.flatMap((filter) => [...declaration.sortKeys, declaration.key].map((sort) => ({ filter, sort }))),
        ...view.countedFilters
          .filter((filter) => view.fieldsByName.get(filter)!.enumValues !== undefined)
          .flatMap((filter) => declaration.sortKeys.map((sort) => ({ filter, sort }))),
      ];
      expect(view.indexes.map(({ filter, sort }) => ({ filter, sort }))).toEqual(expected);
      expect(view.indexes.map((index) => index.id)).toEqual(expected.map((_, i) => i + 1));
      expect(view.indexedFields).toEqual([...new Set([...declaration.filters, ...declaration.sortKeys])]);
    }
    const ordersView = byId(compileViews(REFERENCE), 'orders');
    expect(ordersView.indexes).toHaveLength(7);
    expect(findIndex(ordersView, 'state', 'createdAt')).toEqual({ id: 6, filter: 'state', sort: 'createdAt' });
    expect(findIndex(ordersView, 'currency', 'createdAt')).toBeUndefined();
    expect(ordersView.countedFilters).toEqual(['state', 'currency']);
    expect(ordersView.counterSets).toEqual([['state'], ['currency'], ['state', 'currency']]);
    expect(findIndex(ordersView, undefined, 'createdAt')).toEqual({ id: 1, filter: undefined, sort: 'createdAt' });
    expect(findIndex(ordersView, 'customerId', 'orderId')).toEqual({ id: 5, filter: 'customerId', sort: 'orderId' });
    expect(findIndex(ordersView, 'state', 'updatedAt')).toEqual({ id: 7, filter: 'state', sort: 'updatedAt' });
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

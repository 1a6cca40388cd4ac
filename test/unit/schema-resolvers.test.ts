import { getNamedType, graphql, isObjectType, parse, type ExecutionResult } from 'graphql';
import { compileQuery, isCompiledQuery } from 'graphql-jit';
import { describe, expect, it } from 'vitest';
import { createContext } from '../../src/graphql/context.ts';
import { encodeCursor } from '../../src/graphql/cursor.ts';
import { buildSchema } from '../../src/graphql/schema.ts';
import type { ViewReader } from '../../src/routing/reader.ts';
import type { Row } from '../../src/store/view-store.ts';
import { compileViews } from '../../src/views/model.ts';
import customers from '../../views/customers.ts';
import orders from '../../views/orders.ts';
import payments from '../../views/payments.ts';

const views = compileViews([orders, customers, payments]);
const schema = buildSchema(views, { defaultPageSize: 10, maxPageSize: 50 });
const fieldsOf = (typeName: string) => {
  const type = schema.getType(typeName);
  if (!isObjectType(type)) throw new Error(`${typeName} is not an object type`);
  return type.getFields();
};

describe('resolvers the schema leaves out', () => {
  it('view fields without a rule, connection edges and pageInfo, and edge nodes have none; ruled fields and relations keep theirs', () => {
    for (const view of views) {
      const fields = fieldsOf(view.name);
      for (const field of view.fields) {
        expect(fields[field.name]!.resolve === undefined, `${view.name}.${field.name}`).toBe(!view.authorization.ruledFields.has(field.name));
      }
      for (const relation of view.relations) expect(fields[relation.name]!.resolve, `${view.name}.${relation.name}`).toBeTypeOf('function');
      expect(fieldsOf(`${view.name}Connection`).edges!.resolve).toBeUndefined();
      expect(fieldsOf(`${view.name}Connection`).pageInfo!.resolve).toBeUndefined();
      expect(fieldsOf(`${view.name}Connection`).totalCount!.resolve).toBeTypeOf('function');
      expect(fieldsOf(`${view.name}Edge`).node!.resolve).toBeUndefined();
      expect(getNamedType(fieldsOf(`${view.name}Edge`).cursor!.type).name).toBe('String');
    }
    // The reference views' one field rule (Customer.email) still resolves through its rule.
    expect(fieldsOf('Customer').email!.resolve).toBeTypeOf('function');
  });

  it('graphql-js and graphql-jit answer a page alike: property reads, nulls for absent nullable values, cursors read when selected', async () => {
    const rows: Row[] = [
      {
        orderId: 'ord-2',
        customerId: 'cus-1',
        state: 'SHIPPED',
        product: 'p',
        quantity: 2,
        unitPrice: 1.5,
        currency: 'EUR',
        createdAt: '2026-01-02T00:00:00.000Z',
        updatedAt: '2026-01-02T00:00:00.000Z',
      },
      {
        orderId: 'ord-1',
        customerId: 'cus-9',
        state: 'CREATED',
        product: 'q',
        quantity: 1,
        unitPrice: 3,
        currency: 'USD',
        createdAt: '2026-01-01T00:00:00.000Z',
        updatedAt: '2026-01-01T00:00:00.000Z',
      },
    ];
    const customer: Row = {
      customerId: 'cus-1',
      name: 'Ada',
      email: 'ada@example.com',
      tier: 'GOLD',
      country: 'NL',
      createdAt: '2025-01-01T00:00:00.000Z',
      updatedAt: '2025-01-01T00:00:00.000Z',
    };
    const reader = {
      views,
      view: (id: string) => views.find((view) => view.id === id)!,
      lookup: async (_id: string, keys: readonly string[]) => keys.map((key) => (key === 'cus-1' ? customer : undefined)),
      pages: async (_id: string, requests: readonly unknown[]) =>
        requests.map(() => ({
          rows: rows.map((row) => ({ key: row.orderId as string, sortValue: row.createdAt as string, row, partition: 0 })),
          hasNextPage: true,
          hasPreviousPage: false,
        })),
      count: async () => 2,
      related: async () => new Map(),
      scope: async () => undefined,
    } as unknown as ViewReader;
    const source = `{ orders(first: 2, orderBy: { field: CREATED_AT, direction: DESC }) {
      pageInfo { hasNextPage endCursor } edges { cursor node { orderId state quantity unitPrice createdAt customer { name tier } } }
      more: edges { node { currency } } } }`;
    const viaJs = await graphql({ schema, source, contextValue: createContext(reader, undefined, undefined, undefined) });
    const compiled = compileQuery(schema, parse(source));
    if (!isCompiledQuery(compiled)) throw new Error('not compiled');
    const viaJit = (await compiled.query(undefined, createContext(reader, undefined, undefined, undefined), {})) as ExecutionResult;
    expect(viaJit).toEqual(viaJs);
    const cursors = rows.map((row) => encodeCursor('createdAt', row.createdAt as string, row.orderId as string));
    expect(viaJs).toEqual({
      data: {
        orders: {
          pageInfo: { hasNextPage: true, endCursor: cursors[1] },
          edges: [
            {
              cursor: cursors[0],
              node: {
                orderId: 'ord-2',
                state: 'SHIPPED',
                quantity: 2,
                unitPrice: 1.5,
                createdAt: '2026-01-02T00:00:00.000Z',
                customer: { name: 'Ada', tier: 'GOLD' },
              },
            },
            {
              cursor: cursors[1],
              node: { orderId: 'ord-1', state: 'CREATED', quantity: 1, unitPrice: 3, createdAt: '2026-01-01T00:00:00.000Z', customer: null },
            },
          ],
          more: [{ node: { currency: 'EUR' } }, { node: { currency: 'USD' } }],
        },
      },
    });
  });
});

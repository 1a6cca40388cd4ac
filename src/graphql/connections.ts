/**
 * Relay connections of the views: the `totalCount` field of every connection, a
 * `<View>Connection` and `<View>Edge` type per view, and the resolver behind every connection
 * field, top-level or a relation's.
 */
import type { Value } from '../query/page.ts';
import type { Row } from '../store/view-store.ts';
import type { ViewModel } from '../views/model.ts';
import { checkFieldAccess } from './authorization.ts';
import type { AnyRef, Builder } from './builder.ts';
import type { GraphQLContext } from './context.ts';
import { encodeCursor } from './cursor.ts';
import { toPageRequest, type ConnectionArgs, type PagingLimits } from './inputs.ts';
import type { ObjectRefs } from './node-types.ts';

/** A relation's restriction of a connection: `field` equals the parent's key. */
export interface ParentKey {
  readonly field: string;
  readonly value: string;
}

/** What a connection field resolves to: the shape the Relay plugin's connection types read. */
export interface ConnectionPage {
  readonly edges: ReadonlyArray<{ readonly cursor: string; readonly node: Row }>;
  readonly pageInfo: {
    readonly hasNextPage: boolean;
    readonly hasPreviousPage: boolean;
    readonly startCursor: string | null;
    readonly endCursor: string | null;
  };
  totalCount(): Promise<number>;
}

export interface Connections {
  /** The connection type of a view, as `t.connection` takes it. */
  type(viewId: string): AnyRef;
  /**
   * Reads one page through the request's page loader (batched with the other connections of
   * the request). The count behind `totalCount` is read only if selected, at most once.
   * Argument errors are GW_QUERY_BAD_ARGUMENT.
   */
  resolve(view: ViewModel, ctx: GraphQLContext, args: ConnectionArgs, parentKey?: ParentKey): Promise<ConnectionPage>;
}

export interface ConnectionsOptions {
  readonly views: readonly ViewModel[];
  readonly objects: ObjectRefs;
  readonly limits: PagingLimits;
}

/** An edge of a page; its cursor is encoded only when read (a grid rarely selects every edge's). */
class Edge {
  readonly node: Row;
  readonly #sortField: string;
  readonly #sortValue: Value;
  readonly #key: string;

  constructor(sortField: string, sortValue: Value, key: string, node: Row) {
    this.node = node;
    this.#sortField = sortField;
    this.#sortValue = sortValue;
    this.#key = key;
  }

  get cursor(): string {
    return encodeCursor(this.#sortField, this.#sortValue, this.#key);
  }
}

/** Adds `totalCount` and every view's connection and edge types to the builder. */
export function defineConnections(builder: Builder, options: ConnectionsOptions): Connections {
  const { objects, limits } = options;

  builder.globalConnectionField('totalCount', (t) =>
    t.int({
      description: 'Number of objects matching the filter across all pages.',
      resolve: (parent) => parent.totalCount(),
    }),
  );

  const types = new Map<string, AnyRef>();
  for (const view of options.views) {
    types.set(
      view.id,
      builder.connectionObject(
        { type: objects.get(view.id), name: `${view.name}Connection`, description: `A page of ${view.name} objects.` } as AnyRef,
        { name: `${view.name}Edge`, description: `A ${view.name} in a connection, with its cursor.` } as AnyRef,
      ),
    );
  }

  return {
    type: (viewId) => types.get(viewId),

    async resolve(view, ctx, args, parentKey) {
      const extra = parentKey ? [{ field: parentKey.field, values: [parentKey.value] }] : [];
      const request = toPageRequest(view, args, limits, extra);
      checkFieldAccess(view, request, args, ctx.claims);
      const page = await ctx.pages(view.id).load(request);
      const edges = page.rows.map((row) => new Edge(request.sortField, row.sortValue, row.key, row.row));
      let total: Promise<number> | undefined;
      return {
        edges,
        pageInfo: {
          hasNextPage: page.hasNextPage,
          hasPreviousPage: page.hasPreviousPage,
          startCursor: edges[0]?.cursor ?? null,
          endCursor: edges[edges.length - 1]?.cursor ?? null,
        },
        // The reader AND-s the caller's row scope into the count as into the page: it counts what the caller can see.
        totalCount: () => (total ??= ctx.reader.count(view.id, request.filter, ctx)),
      };
    },
  };
}

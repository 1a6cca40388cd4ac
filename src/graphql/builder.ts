/**
 * The Pothos builder every part of the schema adds its types to: the schema's type parameters
 * (context, non-null by default, the DateTime scalar, connections with `totalCount`) and the
 * Relay plugin's options, which define the `Node` interface, `Query.node` and `Query.nodes`,
 * global ids, and the connection types' shared parts (edges, `PageInfo`, paging arguments).
 */
import SchemaBuilder from '@pothos/core';
import RelayPlugin from '@pothos/plugin-relay';
import { GatewayError } from '../errors.ts';
import type { ViewModel } from '../views/model.ts';
import type { GraphQLContext } from './context.ts';
import type { PagingLimits } from './inputs.ts';

export interface SchemaTypes {
  Context: GraphQLContext;
  DefaultFieldNullability: false;
  DefaultEdgesNullability: { list: false; items: false };
  DefaultNodeNullability: false;
  Scalars: { DateTime: { Input: string; Output: string } };
  Connection: { totalCount: () => Promise<number> };
}

export type Builder = PothosSchemaTypes.SchemaBuilder<PothosSchemaTypes.ExtendDefaultTypes<SchemaTypes>>;
// Types are generated from declarations at run time, so their refs are untyped beyond `Row`.
// biome-ignore lint/suspicious/noExplicitAny: object refs are created from view declarations at run time.
export type AnyRef = any;

export interface BuilderOptions {
  /** The views whose type names global ids may carry. */
  readonly views: readonly ViewModel[];
  /** Page sizes, as the paging arguments describe them. */
  readonly limits: PagingLimits;
}

/**
 * A builder with the Relay plugin configured. A global id is the base64 of `<Type>:<key>`;
 * decoding one that does not name a view's type fails with GW_QUERY_BAD_ID.
 */
export function createBuilder(options: BuilderOptions): Builder {
  const { views, limits } = options;
  return new SchemaBuilder<SchemaTypes>({
    plugins: [RelayPlugin],
    defaultFieldNullability: false,
    relay: {
      clientMutationId: 'omit',
      cursorType: 'String',
      idFieldOptions: { description: 'Global id: identifies this object across the whole schema (see `Query.node`).' },
      nodeTypeOptions: { description: 'An object with a global id that `Query.node` and `Query.nodes` can fetch again.' },
      pageInfoTypeOptions: { description: 'Where a connection page sits in the whole result.' },
      nodeQueryOptions: {
        description: 'Fetches any object by its global id; null if it does not exist.',
        args: { id: { description: 'A global id, as returned in an `id` field.' } },
      } as object,
      nodesQueryOptions: {
        description: 'Fetches objects by global ids, in the order given; null where one does not exist.',
        args: { ids: { description: 'Global ids, as returned in `id` fields.' } },
      } as object,
      cursorFieldOptions: { description: 'Opaque position of this edge; pass it as `after` or `before` to page on from here.' },
      nodeFieldOptions: { nullable: false, description: 'The object at this position.' },
      edgesFieldOptions: { nullable: { list: false, items: false }, description: 'The objects of this page, in order, with their cursors.' },
      pageInfoFieldOptions: { description: 'Whether more pages exist in either direction, and the cursors to reach them.' },
      hasNextPageFieldOptions: { description: 'More objects follow this page in the requested order.' },
      hasPreviousPageFieldOptions: { description: 'More objects precede this page in the requested order.' },
      startCursorFieldOptions: { description: 'Cursor of the first edge of the page, null if it is empty.' },
      endCursorFieldOptions: { description: 'Cursor of the last edge of the page, null if it is empty.' },
      firstArgOptions: {
        description: `Page forwards: at most this many objects (default ${limits.defaultPageSize}, at most ${limits.maxPageSize}).`,
      },
      afterArgOptions: { description: 'Page forwards from after this cursor.' },
      lastArgOptions: { description: `Page backwards: at most this many objects before \`before\` (at most ${limits.maxPageSize}).` },
      beforeArgOptions: { description: 'Page backwards from before this cursor (or from the end without it).' },
      decodeGlobalID: (globalID: string) => {
        const decoded = Buffer.from(globalID, 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        const typename = decoded.slice(0, colon);
        if (colon <= 0 || !views.some((view) => view.name === typename)) {
          throw new GatewayError('GW_QUERY_BAD_ID', `${JSON.stringify(globalID)} is not a global id of this schema`);
        }
        return { typename, id: decoded.slice(colon + 1) };
      },
      encodeGlobalID: (typename: string, id: string | number | bigint) => Buffer.from(`${typename}:${id}`).toString('base64'),
    },
  }) as unknown as Builder;
}

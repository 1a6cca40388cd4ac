/**
 * The `Query` type: per view a lookup by key (`customer(id:)`, null if there is none) and a
 * paged, sorted, filtered connection (`customers`). `Query.node` and `Query.nodes` are added by
 * the Relay plugin with the options in `builder.ts`.
 */
import type { ViewModel } from '../views/model.ts';
import type { AnyRef, Builder } from './builder.ts';
import type { Connections } from './connections.ts';
import type { GraphQLContext } from './context.ts';
import type { ConnectionInputs } from './input-types.ts';
import type { ConnectionArgs } from './inputs.ts';
import { lowerFirst } from './names.ts';
import type { ObjectRefs } from './node-types.ts';

export interface QueryFieldsOptions {
  readonly views: readonly ViewModel[];
  readonly objects: ObjectRefs;
  readonly connectionInputs: ConnectionInputs;
  readonly connections: Connections;
}

/** Adds the `Query` type with every view's lookup and connection. */
export function defineQueryFields(builder: Builder, options: QueryFieldsOptions): void {
  const { objects, connectionInputs, connections } = options;
  builder.queryType({
    description: 'Reads of the materialized views. Every response reports in `extensions.freshness` the offsets it was read at.',
    fields: (t: AnyRef) => {
      const fields: Record<string, AnyRef> = {};
      for (const view of options.views) {
        fields[lowerFirst(view.name)] = t.field({
          type: objects.get(view.id),
          nullable: true,
          description: `Looks up one ${view.name} by ${view.keyField}; null if there is none.`,
          args: { [view.keyField]: t.arg.id({ required: true, description: `The ${view.keyField} (record key).` }) },
          resolve: async (_root: unknown, args: Record<string, string>, ctx: GraphQLContext) =>
            (await ctx.rows(view.id).load(String(args[view.keyField]))) ?? null,
        });
        fields[view.id] = t.connection(
          {
            type: objects.get(view.id),
            description: `${view.name} objects as a paged, sorted, filtered Relay connection.`,
            args: connectionInputs(view.id, t),
            resolve: (_root: unknown, args: ConnectionArgs, ctx: GraphQLContext) => connections.resolve(view, ctx, args),
          },
          connections.type(view.id),
        );
      }
      return fields;
    },
  });
}

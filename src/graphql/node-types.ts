/**
 * The object type of each view. It implements `Node`: its global id is made from the record
 * key, and `Query.node`/`Query.nodes` fetch it again through the request's row loader. It has
 * one field per declared field, and one per relation, resolved through the request's
 * DataLoaders: a `one` relation is the target row by foreign key (null if absent), a `many`
 * relation the target rows whose foreign field holds this row's key, as a list or as a
 * connection.
 *
 * Row rules need nothing here: every row, related or looked up, is read through the request's
 * reader, which applies them. Field rules apply in each field's resolver (authorization.ts).
 */
import type { Row } from '../store/view-store.ts';
import type { ViewModel } from '../views/model.ts';
import { fieldResolver } from './authorization.ts';
import type { AnyRef, Builder } from './builder.ts';
import type { Connections } from './connections.ts';
import type { GraphQLContext } from './context.ts';
import type { ConnectionInputs } from './input-types.ts';
import type { ConnectionArgs } from './inputs.ts';
import type { FieldTypes } from './scalars.ts';

/** Each view's object type, by view id. */
export type ObjectRefs = ReadonlyMap<string, AnyRef>;

/** Refs to every view's object type, so that any type can refer to any view before its fields are defined. */
export function declareObjectRefs(builder: Builder, views: readonly ViewModel[]): ObjectRefs {
  const objects = new Map<string, AnyRef>();
  for (const view of views) {
    objects.set(view.id, builder.objectRef<Row>(view.name));
  }
  return objects;
}

export interface NodeTypesOptions {
  readonly views: readonly ViewModel[];
  readonly objects: ObjectRefs;
  readonly fieldTypes: FieldTypes;
  readonly connectionInputs: ConnectionInputs;
  readonly connections: Connections;
}

/** Implements every view's object type as a `Node` with its fields and relations. */
export function defineNodeTypes(builder: Builder, options: NodeTypesOptions): void {
  const { objects, fieldTypes, connectionInputs, connections } = options;
  for (const view of options.views) {
    const ref = objects.get(view.id);
    builder.node(ref, {
      description: view.declaration.description,
      id: { resolve: (row: Row) => String(row[view.keyField]) },
      loadManyWithoutCache: async (keys: string[], ctx: GraphQLContext) => {
        const rows = await ctx.rows(view.id).loadMany(keys);
        return rows.map((row) => (row instanceof Error ? row : (row ?? null)));
      },
      fields: (t: AnyRef) => {
        const fields: Record<string, AnyRef> = {};
        for (const field of view.fields) {
          const config = { type: fieldTypes.outputType(field), nullable: field.nullable, description: field.description };
          fields[field.name] = view.authorization.ruledFields.has(field.name)
            ? // The field's rule (authorization.ts): null or GW_FIELD_FORBIDDEN when denied.
              t.field({ ...config, resolve: fieldResolver(view, field) })
            : // No resolver: graphql-jit reads the row's property inline, where a resolver costs a
              // call and a resolve-info object per row and field (BENCHMARKS.md, "Resolvers").
              t.expose(field.name, config);
        }
        for (const relation of view.relations) {
          const declaration = relation.declaration;
          const target = relation.target;
          if (declaration.kind === 'one') {
            fields[relation.name] = t.field({
              type: objects.get(target.id),
              nullable: true,
              description: declaration.description,
              resolve: async (row: Row, _args: unknown, ctx: GraphQLContext) => {
                const key = row[declaration.field];
                if (key === undefined || key === null) return null;
                return (await ctx.rows(target.id).load(String(key))) ?? null;
              },
            });
          } else if (declaration.as === 'list') {
            fields[relation.name] = t.field({
              type: [objects.get(target.id)],
              description: declaration.description,
              resolve: (row: Row, _args: unknown, ctx: GraphQLContext) =>
                ctx.related(target.id, declaration.foreignField).load(String(row[view.keyField])),
            });
          } else {
            fields[relation.name] = t.connection(
              {
                type: objects.get(target.id),
                description: declaration.description,
                args: connectionInputs(target.id, t),
                resolve: (row: Row, args: ConnectionArgs, ctx: GraphQLContext) =>
                  connections.resolve(target, ctx, args, { field: declaration.foreignField, value: String(row[view.keyField]) }),
              },
              connections.type(target.id),
            );
          }
        }
        return fields;
      },
    } as AnyRef);
  }
}

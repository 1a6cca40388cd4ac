/**
 * Builds the GraphQL schema from the compiled views with Pothos: per view an object type that
 * implements `Node`, a lookup by key, a Relay connection with `orderBy`/`filter`/`totalCount`,
 * and relation fields batched through the request's DataLoaders. Nothing here knows about Kafka
 * or partitions; reads go through the context's reader.
 */
import SchemaBuilder from '@pothos/core';
import RelayPlugin from '@pothos/plugin-relay';
import { GraphQLError, Kind, type GraphQLSchema } from 'graphql';
import { GatewayError } from '../errors.ts';
import type { Row } from '../store/view-store.ts';
import type { EnumFieldType, ScalarFieldType } from '../views/declaration.ts';
import type { FieldModel, ViewModel } from '../views/model.ts';
import type { GraphQLContext } from './context.ts';
import { decodeToken } from '../routing/consistency.ts';
import type { ChangeEvent } from '../subscriptions/hub.ts';
import { encodeCursor } from './cursor.ts';
import { normalizeTimestamp, toPageRequest, type ConnectionArgs, type PagingLimits } from './inputs.ts';

interface Types {
  Context: GraphQLContext;
  DefaultFieldNullability: false;
  DefaultEdgesNullability: { list: false; items: false };
  DefaultNodeNullability: false;
  Scalars: { DateTime: { Input: string; Output: string } };
  Connection: { totalCount: () => Promise<number> };
}

type Builder = PothosSchemaTypes.SchemaBuilder<PothosSchemaTypes.ExtendDefaultTypes<Types>>;
// Types are generated from declarations at run time, so their refs are untyped beyond `Row`.
type AnyRef = any;

export type SchemaOptions = PagingLimits;

const SCALAR: Record<ScalarFieldType, string> = {
  id: 'ID',
  string: 'String',
  int: 'Int',
  float: 'Float',
  boolean: 'Boolean',
  timestamp: 'DateTime',
};

function constantCase(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

function lowerFirst(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

export function buildSchema(views: readonly ViewModel[], options: SchemaOptions): GraphQLSchema {
  const builder: Builder = new SchemaBuilder<Types>({
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
      firstArgOptions: { description: `Page forwards: at most this many objects (default ${options.defaultPageSize}, at most ${options.maxPageSize}).` },
      afterArgOptions: { description: 'Page forwards from after this cursor.' },
      lastArgOptions: { description: `Page backwards: at most this many objects before \`before\` (at most ${options.maxPageSize}).` },
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

  builder.scalarType('DateTime', {
    description: 'An instant in UTC as an ISO-8601 string with milliseconds, e.g. `2026-11-22T09:30:00.000Z`.',
    serialize: (value) => String(value),
    parseValue: (value) => {
      try {
        return normalizeTimestamp(value);
      } catch (error) {
        throw new GraphQLError(error instanceof Error ? error.message : String(error));
      }
    },
    parseLiteral: (node) => {
      if (node.kind !== Kind.STRING) throw new GraphQLError('DateTime literals are ISO-8601 strings');
      try {
        return normalizeTimestamp(node.value);
      } catch (error) {
        throw new GraphQLError(error instanceof Error ? error.message : String(error));
      }
    },
  });

  const direction = builder.enumType('SortDirection', {
    description: 'Direction of a sort order.',
    values: {
      ASC: { description: 'Smallest first; strings in UTF-8 byte order, timestamps oldest first.' },
      DESC: { description: 'Largest first; timestamps newest first.' },
    } as const,
  });

  builder.globalConnectionField('totalCount', (t) =>
    t.int({
      description: 'Number of objects matching the filter across all pages.',
      resolve: (parent) => parent.totalCount(),
    }),
  );

  const enums = new Map<string, AnyRef>();
  const enumRef = (type: EnumFieldType): AnyRef => {
    let ref = enums.get(type.enum);
    if (!ref) {
      ref = builder.enumType(type.enum, {
        description: type.description,
        values: Object.fromEntries(type.values.map((value) => [value, { description: `${type.enum} ${value}.` }])),
      });
      enums.set(type.enum, ref);
    }
    return ref;
  };
  const outputType = (field: FieldModel): AnyRef =>
    typeof field.type === 'object' ? enumRef(field.type) : SCALAR[field.type];

  // Condition inputs are shared by every view: one per field type and set of operators.
  const conditions = new Map<string, AnyRef>();
  const conditionInput = (field: FieldModel, equality: boolean, range: boolean): AnyRef => {
    const typeName = typeof field.type === 'object' ? field.type.enum : SCALAR[field.type];
    const suffix = equality && range ? 'Condition' : equality ? 'Match' : 'Range';
    const name = `${typeName}${suffix}`;
    let ref = conditions.get(name);
    if (!ref) {
      const type = outputType(field);
      ref = builder.inputType(name, {
        description: `Conditions on a ${typeName} field; all given conditions must hold.`,
        fields: (t: AnyRef) => ({
          ...(equality
            ? {
                eq: t.field({ type, description: 'Equal to this value.' }),
                in: t.field({ type: [type], description: 'Equal to one of these values (at most 1000).' }),
              }
            : {}),
          ...(range
            ? {
                gt: t.field({ type, description: 'Greater than this value.' }),
                gte: t.field({ type, description: 'Greater than or equal to this value.' }),
                lt: t.field({ type, description: 'Less than this value.' }),
                lte: t.field({ type, description: 'Less than or equal to this value.' }),
              }
            : {}),
        }),
      });
      conditions.set(name, ref);
    }
    return ref;
  };

  // First pass: refs, so relations can point at views defined later.
  const objects = new Map<string, AnyRef>();
  const connections = new Map<string, AnyRef>();
  const connectionArgs = new Map<string, (t: AnyRef) => Record<string, AnyRef>>();
  for (const view of views) {
    objects.set(view.id, builder.objectRef<Row>(view.name));
  }
  for (const view of views) {
    const orderField = builder.enumType(`${view.name}OrderField`, {
      description: `Fields ${view.name} connections can be sorted by; ties are broken by ${view.keyField}.`,
      values: Object.fromEntries(
        view.sortFields.map((name) => [constantCase(name), { value: name, description: `Sort by ${name}.` }]),
      ),
    });
    const order = builder.inputType(`${view.name}Order`, {
      description: `Sort order of a ${view.name} connection.`,
      fields: (t) => ({
        field: t.field({ type: orderField, required: true, description: 'Field to sort by.' }),
        direction: t.field({ type: direction, defaultValue: 'ASC', description: 'Sort direction (default ASC).' }),
      }),
    });
    const indexed = [...new Set([...view.filters, ...view.declaration.sortKeys])];
    const filter = builder.inputType(`${view.name}Filter`, {
      description: `Conditions on indexed ${view.name} fields; all must hold.`,
      fields: (t: AnyRef) =>
        Object.fromEntries(
          indexed.map((name) => {
            const field = view.fieldsByName.get(name)!;
            const input = conditionInput(field, view.filters.includes(name), view.declaration.sortKeys.includes(name));
            return [name, t.field({ type: input, description: field.description })];
          }),
        ),
    });
    connectionArgs.set(view.id, (t) => ({
      orderBy: t.arg({ type: order, description: `Sort order (default: ${view.sortFields[0]} ascending).` }),
      filter: t.arg({ type: filter, description: 'Only objects matching all these conditions.' }),
    }));
    connections.set(
      view.id,
      builder.connectionObject(
        { type: objects.get(view.id), name: `${view.name}Connection`, description: `A page of ${view.name} objects.` } as AnyRef,
        { name: `${view.name}Edge`, description: `A ${view.name} in a connection, with its cursor.` } as AnyRef,
      ),
    );
  }

  const resolveConnection = async (
    view: ViewModel,
    ctx: GraphQLContext,
    args: ConnectionArgs,
    parentKey?: { field: string; value: string },
  ) => {
    const extra = parentKey ? [{ field: parentKey.field, values: [parentKey.value] }] : [];
    const request = toPageRequest(view, args, options, extra);
    const page = await ctx.pages(view.id).load(request);
    const edges = page.rows.map((row) => ({ cursor: encodeCursor(request.sortField, row.sortValue, row.key), node: row.row }));
    let total: Promise<number> | undefined;
    return {
      edges,
      pageInfo: {
        hasNextPage: page.hasNextPage,
        hasPreviousPage: page.hasPreviousPage,
        startCursor: edges[0]?.cursor ?? null,
        endCursor: edges[edges.length - 1]?.cursor ?? null,
      },
      totalCount: () => (total ??= ctx.reader.count(view.id, request.filter, ctx)),
    };
  };

  for (const view of views) {
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
          fields[field.name] = t.field({
            type: outputType(field),
            nullable: !field.required,
            description: field.description,
            resolve: (row: Row) => row[field.name] ?? null,
          });
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
                args: connectionArgs.get(target.id)!(t),
                resolve: (row: Row, args: ConnectionArgs, ctx: GraphQLContext) =>
                  resolveConnection(target, ctx, args, { field: declaration.foreignField, value: String(row[view.keyField]) }),
              },
              connections.get(target.id),
            );
          }
        }
        return fields;
      },
    } as AnyRef);
  }

  builder.queryType({
    description: 'Reads of the materialized views. Every response reports in `extensions.freshness` the offsets it was read at.',
    fields: (t: AnyRef) => {
      const fields: Record<string, AnyRef> = {};
      for (const view of views) {
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
            args: connectionArgs.get(view.id)!(t),
            resolve: (_root: unknown, args: ConnectionArgs, ctx: GraphQLContext) => resolveConnection(view, ctx, args),
          },
          connections.get(view.id),
        );
      }
      return fields;
    },
  });

  const changeKind = builder.enumType('ChangeKind', {
    description: 'What a subscription event says about a row.',
    values: {
      SNAPSHOT: { description: 'Part of the current state, sent first (for a list: the first page of the grid).' },
      CAUGHT_UP: { description: 'The current state (or, on resume, the missed changes) is complete; live changes follow.' },
      UPSERT: { description: 'The row is new or changed (for a list: it matches the filter now).' },
      REMOVE: { description: 'The row was deleted (for a list: or it no longer matches the filter).' },
    } as const,
  });
  const changeTypes = new Map<string, AnyRef>();
  for (const view of views) {
    changeTypes.set(
      view.id,
      builder.objectRef<ChangeEvent>(`${view.name}Change`).implement({
        description: `An event of a ${view.name} subscription.`,
        fields: (t: AnyRef) => ({
          kind: t.field({ type: changeKind, description: 'What happened.', resolve: (event: ChangeEvent) => event.kind }),
          key: t.id({
            nullable: true,
            description: `The ${view.keyField} of the row (null for CAUGHT_UP).`,
            resolve: (event: ChangeEvent) => event.key,
          }),
          node: t.field({
            type: objects.get(view.id),
            nullable: true,
            description: 'The row as it is now (null for REMOVE and CAUGHT_UP). Joined fields are read when the event is sent.',
            resolve: (event: ChangeEvent) => event.row,
          }),
          token: t.string({
            description: 'Resume token: subscribe again with `after` set to it to receive exactly the changes after this event.',
            resolve: (event: ChangeEvent) => event.token,
          }),
        }),
      }),
    );
  }
  const afterArg = (t: AnyRef) =>
    t.arg.string({ description: 'Resume after the event that carried this token: no snapshot, the missed changes (latest value per key), then live.' });
  const deliver = (event: ChangeEvent, ctx: GraphQLContext) => {
    ctx.resetLoaders();
    if (event.failure) throw event.failure;
    if (event.kind === 'OVERFLOW') {
      throw new GatewayError('GW_SUBSCRIPTION_OVERFLOW', 'this subscriber fell too far behind; subscribe again with `after` set to the token', {
        details: { token: event.token },
      });
    }
    return event;
  };
  const hubOf = (ctx: GraphQLContext) => {
    if (!ctx.hub) throw new GatewayError('GW_QUERY_BAD_ARGUMENT', 'subscriptions are not served on this endpoint');
    return ctx.hub;
  };
  builder.subscriptionType({
    description: 'Live changes of the materialized views: first the current state, then every change, resumable from a token.',
    fields: (t: AnyRef) => {
      const fields: Record<string, AnyRef> = {};
      for (const view of views) {
        fields[`${lowerFirst(view.name)}Changed`] = t.field({
          type: changeTypes.get(view.id),
          description: `One ${view.name} by ${view.keyField}: a SNAPSHOT event with its current state (node null if absent), then an UPSERT or REMOVE per change.`,
          args: {
            [view.keyField]: t.arg.id({ required: true, description: `The ${view.keyField} (record key).` }),
            after: afterArg(t),
          },
          subscribe: (_root: unknown, args: Record<string, string | null>, ctx: GraphQLContext) =>
            hubOf(ctx).entity(view.id, String(args[view.keyField]), args.after ? decodeToken(args.after) : undefined),
          resolve: (event: ChangeEvent, _args: unknown, ctx: GraphQLContext) => deliver(event, ctx),
        });
        fields[`${view.id}Changed`] = t.field({
          type: changeTypes.get(view.id),
          description: `A live ${view.name} grid: SNAPSHOT events for the first page in \`orderBy\` order, CAUGHT_UP, then UPSERT for every row that changes and matches the filter, REMOVE for rows deleted or leaving it.`,
          args: {
            ...connectionArgs.get(view.id)!(t),
            first: t.arg.int({ description: `Rows in the snapshot (default ${options.defaultPageSize}, at most ${options.maxPageSize}).` }),
            after: afterArg(t),
          },
          subscribe: (_root: unknown, args: ConnectionArgs & { after?: string | null }, ctx: GraphQLContext) => {
            const request = toPageRequest(view, { first: args.first, orderBy: args.orderBy, filter: args.filter }, options);
            return hubOf(ctx).list(view.id, request, args.after ? decodeToken(args.after) : undefined);
          },
          resolve: (event: ChangeEvent, _args: unknown, ctx: GraphQLContext) => deliver(event, ctx),
        });
      }
      return fields;
    },
  });

  return builder.toSchema({ sortSchema: false });
}

/**
 * The `Subscription` type: per view one entity subscription by key (`customerChanged`) and one
 * live grid (`customersChanged`), both served by the context's subscription hub and resumable
 * from the token every event carries. Events are `<View>Change` objects with a `ChangeKind`.
 */
import { GatewayError } from '../errors.ts';
import { decodeToken } from '../routing/consistency.ts';
import type { ChangeEvent } from '../subscriptions/hub.ts';
import type { ViewModel } from '../views/model.ts';
import { checkFieldAccess } from './authorization.ts';
import type { AnyRef, Builder } from './builder.ts';
import type { GraphQLContext } from './context.ts';
import type { ConnectionInputs } from './input-types.ts';
import { toPageRequest, type ConnectionArgs, type PagingLimits } from './inputs.ts';
import { lowerFirst } from './names.ts';
import type { ObjectRefs } from './node-types.ts';

export interface SubscriptionFieldsOptions {
  readonly views: readonly ViewModel[];
  readonly objects: ObjectRefs;
  readonly connectionInputs: ConnectionInputs;
  readonly limits: PagingLimits;
}

/**
 * Hands an event to the client with fresh DataLoaders, so joined fields are read as they are
 * now. Throws the failure of an event that ends the subscription, and GW_SUBSCRIPTION_OVERFLOW
 * (with the token to resume from) for the event that cuts off a client that fell behind.
 */
function deliver(event: ChangeEvent, ctx: GraphQLContext): ChangeEvent {
  ctx.resetLoaders();
  if (event.failure) throw event.failure;
  if (event.kind === 'OVERFLOW') {
    throw new GatewayError('GW_SUBSCRIPTION_OVERFLOW', 'this subscriber fell too far behind; subscribe again with `after` set to the token', {
      details: { token: event.token },
    });
  }
  return event;
}

/** The context's hub; GW_QUERY_BAD_ARGUMENT on an endpoint that serves no subscriptions. */
function hubOf(ctx: GraphQLContext) {
  if (!ctx.hub) throw new GatewayError('GW_QUERY_BAD_ARGUMENT', 'subscriptions are not served on this endpoint');
  return ctx.hub;
}

/** Adds `ChangeKind`, every view's change type and the `Subscription` type. */
export function defineSubscriptionFields(builder: Builder, options: SubscriptionFieldsOptions): void {
  const { objects, connectionInputs, limits } = options;
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
  for (const view of options.views) {
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
    t.arg.string({
      description: 'Resume after the event that carried this token: no snapshot, the missed changes (latest value per key), then live.',
    });

  builder.subscriptionType({
    description: 'Live changes of the materialized views: first the current state, then every change, resumable from a token.',
    fields: (t: AnyRef) => {
      const fields: Record<string, AnyRef> = {};
      for (const view of options.views) {
        fields[`${lowerFirst(view.name)}Changed`] = t.field({
          type: changeTypes.get(view.id),
          description: `One ${view.name} by ${view.keyField}: a SNAPSHOT event with its current state (node null if absent), then an UPSERT or REMOVE per change.`,
          args: {
            [view.keyField]: t.arg.id({ required: true, description: `The ${view.keyField} (record key).` }),
            after: afterArg(t),
          },
          subscribe: (_root: unknown, args: Record<string, string | null>, ctx: GraphQLContext) =>
            hubOf(ctx).entity(view.id, String(args[view.keyField]), args.after ? decodeToken(args.after) : undefined, ctx.claims),
          resolve: (event: ChangeEvent, _args: unknown, ctx: GraphQLContext) => deliver(event, ctx),
        });
        fields[`${view.id}Changed`] = t.field({
          type: changeTypes.get(view.id),
          description: `A live ${view.name} grid: SNAPSHOT events for the first page in \`orderBy\` order, CAUGHT_UP, then UPSERT for every row that changes and matches the filter, REMOVE for rows deleted or leaving it.`,
          args: {
            ...connectionInputs(view.id, t),
            first: t.arg.int({ description: `Rows in the snapshot (default ${limits.defaultPageSize}, at most ${limits.maxPageSize}).` }),
            after: afterArg(t),
          },
          subscribe: (_root: unknown, args: ConnectionArgs & { after?: string | null }, ctx: GraphQLContext) => {
            const request = toPageRequest(view, { first: args.first, orderBy: args.orderBy, filter: args.filter }, limits);
            checkFieldAccess(view, request, args, ctx.claims);
            return hubOf(ctx).list(view.id, request, args.after ? decodeToken(args.after) : undefined, ctx.claims);
          },
          resolve: (event: ChangeEvent, _args: unknown, ctx: GraphQLContext) => deliver(event, ctx),
        });
      }
      return fields;
    },
  });
}

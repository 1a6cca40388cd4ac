/**
 * Field rules where GraphQL meets them (row rules are applied by the routed reader, for every
 * read): a view field with a rule resolves to null for a caller the rule denies when the field
 * is nullable, and fails with GW_FIELD_FORBIDDEN when it is not (GraphQL then nulls the nearest
 * nullable parent). The same object types serve queries and subscription events, so the same
 * resolvers apply to both. Filtering or sorting by a field the caller may not see is refused with
 * GW_FIELD_FORBIDDEN too: matches and cursors would tell its values.
 */
import { GatewayError } from '../errors.ts';
import type { PageRequest } from '../query/page.ts';
import type { Row } from '../store/view-store.ts';
import type { Claims } from '../views/declaration.ts';
import type { FieldModel, ViewModel } from '../views/model.ts';
import type { GraphQLContext } from './context.ts';
import type { ConnectionArgs } from './inputs.ts';

function forbidden(view: ViewModel, field: string, use: string): GatewayError {
  return new GatewayError('GW_FIELD_FORBIDDEN', `${view.name}.${field} is not visible to this caller, so it cannot be ${use}`, {
    details: { type: view.name, field },
  });
}

/** The resolver of a view field with a rule: its value, or what a denied caller gets. */
export function fieldResolver(view: ViewModel, field: FieldModel): (row: Row, args: unknown, ctx: GraphQLContext) => unknown {
  return (row, _args, ctx) => {
    if (view.authorization.fieldVisible(field.name, ctx.claims)) return row[field.name] ?? null;
    if (field.nullable) return null;
    throw forbidden(view, field.name, 'selected');
  };
}

/** Refuses a connection or list subscription that filters or sorts by a field the caller may not see. */
export function checkFieldAccess(view: ViewModel, request: PageRequest, args: ConnectionArgs, claims: Claims): void {
  if (view.authorization.ruledFields.size === 0) return;
  for (const [name, condition] of Object.entries(args.filter ?? {})) {
    if (condition && !view.authorization.fieldVisible(name, claims)) throw forbidden(view, name, 'filtered by');
  }
  if (!view.authorization.fieldVisible(request.sortField, claims)) throw forbidden(view, request.sortField, 'sorted by');
}

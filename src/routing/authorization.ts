/**
 * Row authorization: which rows of a view a caller may see, as a filter. The routed reader
 * (reader.ts) resolves it once per request and view and AND-s it into every read it makes for
 * that caller: lookups (a row outside it is absent), pages, counts (so `totalCount` counts what
 * the caller can see) and relation lists, locally and in the peer requests that carry filters,
 * so the owning instance applies it too. Subscriptions AND it into their filters.
 *
 * A view's rule (views/model.ts) answers, for the caller's claims, `all`, `none`, an equality
 * filter on the view's filter fields, or "through a relation" (`via`): then the related view's
 * own scope is resolved first, its visible keys are read (at most `maxViaKeys`), and they become
 * an `in` condition on the relation's field. More visible keys than that fail the read with
 * GW_SCOPE_TOO_LARGE rather than show a cut scope.
 */
import { GatewayError } from '../errors.ts';
import { matchesNothing, type Filter } from '../query/filter.ts';
import type { Claims } from '../views/declaration.ts';
import type { ViewModel } from '../views/model.ts';

/** The rows a caller may see: a filter every read is AND-ed with; undefined for every row. */
export type RowScope = Filter | undefined;

/** Default bound on the related keys a `via` rule turns into an `in` condition (as GraphQL `in` lists). */
export const MAX_VIA_KEYS = 1000;

/** A filter no row matches: an empty `in` on the key (`matchesNothing` knows it, reads stop at once). */
export function nothingOf(field: string): Filter {
  return { equals: [{ field, values: [] }], ranges: [] };
}

/** `filter` AND `scope`. */
export function restrict(filter: Filter, scope: RowScope): Filter {
  if (!scope) return filter;
  return { equals: [...filter.equals, ...scope.equals], ranges: [...filter.ranges, ...scope.ranges] };
}

export interface ScopeReads {
  /** The scope of another view for the same caller (cached per request by the caller). */
  scopeOf(view: ViewModel): Promise<RowScope>;
  /** Keys of the view's rows visible under its scope, in key order, at most `limit`. */
  visibleKeys(view: ViewModel, limit: number): Promise<string[]>;
}

/** The scope of `view` for `claims`; `reads` resolve a `via` rule's related view. */
export async function resolveScope(view: ViewModel, claims: Claims, reads: ScopeReads, maxViaKeys = MAX_VIA_KEYS): Promise<RowScope> {
  const spec = view.authorization.rows(claims);
  switch (spec.kind) {
    case 'all':
      return undefined;
    case 'none':
      return nothingOf(view.keyField);
    case 'filter':
      return { equals: spec.equals, ranges: [] };
    case 'via': {
      const target = spec.relation.target;
      const targetScope = await reads.scopeOf(target);
      if (!targetScope) return undefined;
      if (matchesNothing(targetScope)) return nothingOf(spec.field);
      const keys = await reads.visibleKeys(target, maxViaKeys + 1);
      if (keys.length > maxViaKeys) {
        throw new GatewayError(
          'GW_SCOPE_TOO_LARGE',
          `${view.id} are visible through ${spec.relation.name}, and this caller may see more than ${maxViaKeys} ${target.id}: the read is refused rather than cut short`,
          { details: { view: view.id, via: spec.relation.name, limit: maxViaKeys } },
        );
      }
      return { equals: [{ field: spec.field, values: keys }], ranges: [] };
    }
  }
}

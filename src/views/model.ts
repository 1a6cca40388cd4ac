/**
 * Compiles view declarations into the runtime model the store, ingest and GraphQL layers share:
 * checked references, the list of indexes, and relation targets resolved to models.
 * Every inconsistency is reported at start with `GW_VIEW_INVALID`, naming the view and field.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { GatewayError } from '../errors.ts';
import type {
  AuthorizationDeclaration,
  Claims,
  EnumFieldType,
  FieldDeclaration,
  FieldRule,
  RelationDeclaration,
  ScalarFieldType,
  ViewDeclaration,
} from './declaration.ts';
import { parseTimestamp } from './timestamp.ts';

export interface FieldModel {
  readonly name: string;
  readonly type: ScalarFieldType | EnumFieldType;
  readonly description: string;
  readonly required: boolean;
  /** Whether the GraphQL field may be null (`nullable`, else `!required`). */
  readonly nullable: boolean;
  readonly pattern: RegExp | undefined;
  /** For enums, the allowed values as a set. */
  readonly enumValues: ReadonlySet<string> | undefined;
}

/**
 * One secondary index: entries `(filterValues..., sortValue, key)` in a partition, each holding
 * the row's `indexedFields` values so filters are checked without reading rows. `filters` is
 * empty for the plain sort index (one per sort key). Selective (id-typed) filters get an index
 * per sort field, enum filters one per declared sort key; other filters (plain strings) are
 * checked on a sort index's values unless the declaration's `indexes` names them. Declared
 * indexes (combinations of filters) come last, one per declared sort key. Enum and string
 * filters are also counted by counters. Sorting by the key reads the rows directly.
 */
export interface IndexModel {
  /** Small stable number used in the storage key; derived from declaration order. */
  readonly id: number;
  /** The equality fields whose values lead the entries' keys, in key order. */
  readonly filters: readonly string[];
  readonly sort: string;
}

export interface RelationModel {
  readonly name: string;
  readonly declaration: RelationDeclaration;
  /** Resolved after all views are compiled. */
  target: ViewModel;
}

export interface ViewModel {
  /** The view's identity: its plural, e.g. `orders`. */
  readonly id: string;
  readonly declaration: ViewDeclaration;
  readonly name: string;
  readonly topic: string;
  readonly keyField: string;
  readonly replicated: boolean;
  readonly fields: readonly FieldModel[];
  readonly fieldsByName: ReadonlyMap<string, FieldModel>;
  /** Declared sort keys followed by the key field. */
  readonly sortFields: readonly string[];
  readonly filters: readonly string[];
  /**
   * Filter fields with maintained per-value row counts: enums and plain strings (few distinct
   * values). Id-typed filters (foreign keys such as `customerId`) have many distinct values, are
   * selective anyway, and are counted by scanning their index instead of costing memory per value.
   */
  readonly countedFilters: readonly string[];
  /** Field sets with maintained row counts per combination of values (see `subsets`). */
  readonly counterSets: readonly (readonly string[])[];
  /** Fields whose values every index entry carries: filters and sort keys, in this order. */
  readonly indexedFields: readonly string[];
  readonly indexes: readonly IndexModel[];
  readonly relations: readonly RelationModel[];
  /** The view's row and field rules (no rule: everything visible). */
  readonly authorization: AuthorizationModel;
}

/** Most values a row rule's `in` condition may list. */
export const MAX_RULE_VALUES = 1000;

/**
 * A row rule's answer for some claims, checked against the view: no restriction, nothing, an
 * equality filter on the view's own filter fields, or the rule of the related view through a
 * to-one relation whose field (`field`, one of this view's filters) holds the related key.
 */
export type RowScopeSpec =
  | { readonly kind: 'all' }
  | { readonly kind: 'none' }
  | { readonly kind: 'filter'; readonly equals: ReadonlyArray<{ readonly field: string; readonly values: readonly (string | number)[] }> }
  | { readonly kind: 'via'; readonly relation: RelationModel; readonly field: string };

export interface AuthorizationModel {
  /** Whether the view declares a row rule. */
  readonly hasRowRule: boolean;
  /**
   * The row rule's answer for these claims. A rule that answers something else than `'all'`,
   * `'none'` or a filter on declared filter fields fails the read with GW_VIEW_INVALID; a rule
   * that throws fails it with its error: never a wider answer.
   */
  rows(claims: Claims): RowScopeSpec;
  /** Fields that have a field rule. */
  readonly ruledFields: ReadonlySet<string>;
  /** Whether the caller may see a field: true without a rule, else only when its rule returns true. */
  fieldVisible(field: string, claims: Claims): boolean;
}

function invalid(view: string, message: string): GatewayError {
  return new GatewayError('GW_VIEW_INVALID', `view ${view}: ${message}`);
}

function compileField(view: string, name: string, declaration: FieldDeclaration): FieldModel {
  const type = declaration.type;
  if (typeof type === 'object' && type.values.length === 0) {
    throw invalid(view, `enum field ${name} has no values`);
  }
  if (declaration.nullable === false && declaration.required === false) {
    throw invalid(view, `field ${name} is optional, so it cannot be declared non-nullable`);
  }
  return {
    name,
    type,
    description: declaration.description,
    required: declaration.required ?? true,
    nullable: declaration.nullable ?? !(declaration.required ?? true),
    pattern: declaration.pattern,
    enumValues: typeof type === 'object' ? new Set(type.values) : undefined,
  };
}

/**
 * The field sets whose per-value-combination row counts are maintained: every non-empty subset
 * of the counted filters (at most 4 of them; beyond that, single fields only), so `totalCount`
 * for any equality filter over them is a sum of counters.
 */
function subsets(fields: readonly string[]): string[][] {
  if (fields.length > 4) return fields.map((field) => [field]);
  const out: string[][] = [];
  for (let mask = 1; mask < 1 << fields.length; mask++) out.push(fields.filter((_, i) => mask & (1 << i)));
  return out;
}

/**
 * Finds the index of one filter field (or none) and a sort field, or undefined for the key order
 * without a filter.
 */
export function findIndex(view: ViewModel, filter: string | undefined, sort: string): IndexModel | undefined {
  const filters = filter === undefined ? 0 : 1;
  return view.indexes.find((index) => index.sort === sort && index.filters.length === filters && index.filters[0] === filter);
}

/** Fields an index combination may hold at most (`ViewDeclaration.indexes`). */
const MAX_INDEX_FIELDS = 3;
/** Declared index combinations per view at most; each costs every record one write per sort key. */
const MAX_DECLARED_INDEXES = 8;

/** The declared index combinations (`ViewDeclaration.indexes`), checked against what is indexed already. */
function declaredIndexes(id: string, declaration: ViewDeclaration, automatic: readonly IndexModel[]): string[][] {
  const declared = declaration.indexes ?? [];
  if (!Array.isArray(declared)) throw invalid(id, 'indexes must be a list of field lists');
  if (declared.length > MAX_DECLARED_INDEXES) throw invalid(id, `at most ${MAX_DECLARED_INDEXES} indexes may be declared`);
  const seen = new Set(automatic.filter((index) => index.filters.length > 0).map((index) => JSON.stringify([...index.filters].sort())));
  return declared.map((fields, i) => {
    if (!Array.isArray(fields) || fields.length === 0 || fields.length > MAX_INDEX_FIELDS) {
      throw invalid(id, `indexes[${i}] must list 1 to ${MAX_INDEX_FIELDS} filter fields`);
    }
    for (const field of fields) {
      if (typeof field !== 'string' || !declaration.filters.includes(field))
        throw invalid(id, `indexes[${i}]: ${String(field)} is not one of the view's filters`);
    }
    if (new Set(fields).size !== fields.length) throw invalid(id, `indexes[${i}] names a field twice`);
    const set = JSON.stringify([...fields].sort());
    if (seen.has(set)) throw invalid(id, `indexes[${i}] (${fields.join(', ')}) is indexed already`);
    seen.add(set);
    return [...fields];
  });
}

function compileView(declaration: ViewDeclaration, topicPrefix: string): ViewModel {
  const id = declaration.plural;
  if (!/^[A-Z][A-Za-z0-9]*$/.test(declaration.name)) throw invalid(id, `name ${declaration.name} is not a GraphQL type name`);
  if (!/^[a-z][A-Za-z0-9]*$/.test(id)) throw invalid(id, 'plural must be a lowerCamel GraphQL field name');
  const fields = Object.entries(declaration.fields).map(([name, field]) => compileField(id, name, field));
  const fieldsByName = new Map(fields.map((field) => [field.name, field]));
  const key = fieldsByName.get(declaration.key);
  if (!key) throw invalid(id, `key field ${declaration.key} is not declared`);
  if (key.type !== 'id' && key.type !== 'string') throw invalid(id, 'key field must be of type id or string');
  for (const name of [...declaration.sortKeys, ...declaration.filters]) {
    const field = fieldsByName.get(name);
    if (!field) throw invalid(id, `indexed field ${name} is not declared`);
    if (field.type === 'boolean') throw invalid(id, `boolean field ${name} cannot be indexed`);
    if (!field.required) throw invalid(id, `indexed field ${name} must be required`);
  }
  if (declaration.sortKeys.includes(declaration.key)) throw invalid(id, 'the key is always sortable; do not list it in sortKeys');
  const sortFields = [...declaration.sortKeys, declaration.key];
  const countedFilters = declaration.filters.filter((name) => fieldsByName.get(name)!.type !== 'id');
  const selectiveFilters = declaration.filters.filter((name) => !countedFilters.includes(name));
  const indexes: IndexModel[] = [];
  for (const sort of declaration.sortKeys) indexes.push({ id: indexes.length + 1, filters: [], sort });
  for (const filter of selectiveFilters) {
    for (const sort of sortFields) indexes.push({ id: indexes.length + 1, filters: [filter], sort });
  }
  // Enum filters also drive scans: their matches may cluster in time (the newest orders are rarely
  // SHIPPED yet), so checking them on a sort index's entries could read far more than a page.
  const enumFilters = countedFilters.filter((name) => typeof fieldsByName.get(name)!.type === 'object');
  for (const filter of enumFilters) {
    for (const sort of declaration.sortKeys) indexes.push({ id: indexes.length + 1, filters: [filter], sort });
  }
  for (const filters of declaredIndexes(id, declaration, indexes)) {
    for (const sort of declaration.sortKeys) indexes.push({ id: indexes.length + 1, filters, sort });
  }
  const relations = Object.entries(declaration.relations ?? {}).map(
    ([name, relation]): RelationModel => ({ name, declaration: relation, target: undefined as unknown as ViewModel }),
  );
  return {
    id,
    declaration,
    name: declaration.name,
    topic: topicPrefix + declaration.topic,
    keyField: declaration.key,
    replicated: declaration.placement === 'replicated',
    fields,
    fieldsByName,
    sortFields,
    filters: declaration.filters,
    countedFilters,
    counterSets: subsets(countedFilters),
    indexedFields: [...new Set([...declaration.filters, ...declaration.sortKeys])],
    indexes,
    relations,
    authorization: OPEN,
  };
}

const ALL: RowScopeSpec = { kind: 'all' };
const NONE: RowScopeSpec = { kind: 'none' };

/** The authorization of a view without rules. */
const OPEN: AuthorizationModel = {
  hasRowRule: false,
  rows: () => ALL,
  ruledFields: new Set(),
  fieldVisible: () => true,
};

/** A row rule's answer checked against the view; a message saying what is wrong otherwise. */
function checkRuleAnswer(view: ViewModel, answer: unknown): RowScopeSpec | string {
  if (answer === 'all') return ALL;
  if (answer === 'none') return NONE;
  if (!answer || typeof answer !== 'object' || Array.isArray(answer)) return `answered ${JSON.stringify(answer)}, not 'all', 'none' or a filter`;
  const equals: Array<{ field: string; values: Array<string | number> }> = [];
  for (const [name, condition] of Object.entries(answer)) {
    if (!view.filters.includes(name)) return `filters on ${name}, which is not among the view's filters (${view.filters.join(', ')})`;
    if (!condition || typeof condition !== 'object' || Array.isArray(condition))
      return `answered a condition on ${name} that is not { eq } or { in }`;
    const keys = Object.keys(condition);
    if (keys.length === 0 || keys.some((key) => key !== 'eq' && key !== 'in')) return `answered a condition on ${name} that is not { eq } or { in }`;
    const field = view.fieldsByName.get(name)!;
    const value = (raw: unknown): string | number | undefined => {
      if (typeof raw === 'number' && Number.isFinite(raw)) return raw;
      if (typeof raw !== 'string') return undefined;
      return field.type === 'timestamp' ? parseTimestamp(raw) : raw;
    };
    const { eq, in: list } = condition as { eq?: unknown; in?: unknown };
    if ('eq' in condition) {
      const checked = value(eq);
      if (checked === undefined) return `answered ${name} eq ${JSON.stringify(eq)}, not a string or a finite number`;
      equals.push({ field: name, values: [checked] });
    }
    if ('in' in condition) {
      if (!Array.isArray(list) || list.length > MAX_RULE_VALUES)
        return `answered ${name} in something that is not a list of at most ${MAX_RULE_VALUES} values`;
      const values = list.map(value);
      if (values.some((checked) => checked === undefined)) return `answered ${name} in a list with a value that is not a string or a finite number`;
      equals.push({ field: name, values: values as Array<string | number> });
    }
  }
  return equals.length === 0 ? ALL : { kind: 'filter', equals };
}

/**
 * Compiles a view's `authorization` once every view's relations are resolved. Refuses, with
 * GW_VIEW_INVALID, rules that could not be enforced: a `via` over an unknown or to-many relation,
 * or over a field the view cannot filter on; `via` rules that lead back to their view; field
 * rules on undeclared fields or on the key; and rules that fail or answer nonsense for
 * `claims = undefined` (client authentication off), which they are asked at start.
 */
function compileAuthorization(view: ViewModel): AuthorizationModel {
  const declaration: AuthorizationDeclaration | undefined = view.declaration.authorization;
  if (declaration === undefined) return OPEN;
  if (!declaration || typeof declaration !== 'object') throw invalid(view.id, 'authorization must be an object { rows?, fields? }');
  const unknown = Object.keys(declaration).find((key) => key !== 'rows' && key !== 'fields');
  if (unknown !== undefined) throw invalid(view.id, `authorization has an unknown entry ${unknown}`);

  let rows: (claims: Claims) => RowScopeSpec = () => ALL;
  const rule = declaration.rows;
  if (typeof rule === 'function') {
    rows = (claims) => {
      const checked = checkRuleAnswer(view, rule(claims));
      if (typeof checked === 'string') throw invalid(view.id, `row rule ${checked}`);
      return checked;
    };
    let probe: RowScopeSpec | string;
    try {
      probe = checkRuleAnswer(view, rule(undefined));
    } catch (error) {
      throw new GatewayError('GW_VIEW_INVALID', `view ${view.id}: row rule fails for claims undefined (client authentication off)`, { cause: error });
    }
    if (typeof probe === 'string') throw invalid(view.id, `row rule ${probe} for claims undefined`);
  } else if (rule !== undefined) {
    if (!rule || typeof rule !== 'object' || typeof rule.via !== 'string' || Object.keys(rule).length !== 1) {
      throw invalid(view.id, "row rule must be a function of the claims or { via: '<relation>' }");
    }
    const relation = view.relations.find((candidate) => candidate.name === rule.via);
    if (!relation) throw invalid(view.id, `row rule goes through unknown relation ${rule.via}`);
    const target = relation.declaration;
    if (target.kind !== 'one') throw invalid(view.id, `row rule goes through ${rule.via}, a to-many relation; only a to-one relation can carry it`);
    if (!view.filters.includes(target.field)) {
      throw invalid(
        view.id,
        `row rule goes through ${rule.via}, whose field ${target.field} is not among the view's filters, so it cannot be enforced as an \`in\` filter`,
      );
    }
    const spec: RowScopeSpec = { kind: 'via', relation, field: target.field };
    rows = () => spec;
  }

  const fieldRules = new Map<string, FieldRule>();
  for (const [name, fieldRule] of Object.entries(declaration.fields ?? {})) {
    if (!view.fieldsByName.has(name)) throw invalid(view.id, `field rule for undeclared field ${name}`);
    if (name === view.keyField) throw invalid(view.id, `field rule for the key ${name}: every global id carries it`);
    if (typeof fieldRule !== 'function') throw invalid(view.id, `field rule for ${name} must be a function of the claims`);
    let probe: unknown;
    try {
      probe = fieldRule(undefined);
    } catch (error) {
      throw new GatewayError('GW_VIEW_INVALID', `view ${view.id}: field rule for ${name} fails for claims undefined (client authentication off)`, {
        cause: error,
      });
    }
    if (typeof probe !== 'boolean')
      throw invalid(view.id, `field rule for ${name} must return a boolean (answered ${JSON.stringify(probe)} for claims undefined)`);
    fieldRules.set(name, fieldRule);
  }

  return {
    hasRowRule: rule !== undefined,
    rows,
    ruledFields: new Set(fieldRules.keys()),
    fieldVisible: (field, claims) => {
      const fieldRule = fieldRules.get(field);
      return fieldRule === undefined || fieldRule(claims) === true;
    },
  };
}

/** Refuses `via` row rules that lead back to a view already on the way. */
function checkViaCycles(views: readonly ViewModel[]): void {
  for (const start of views) {
    const seen = [start.id];
    let view = start;
    for (;;) {
      const spec = view.declaration.authorization?.rows;
      if (!spec || typeof spec === 'function') break;
      const next = view.relations.find((relation) => relation.name === spec.via)!.target;
      if (seen.includes(next.id)) throw invalid(start.id, `row rules go through relations in a cycle: ${[...seen, next.id].join(' -> ')}`);
      seen.push(next.id);
      view = next;
    }
  }
}

/** Compiles and cross-checks a set of views. */
export function compileViews(declarations: readonly ViewDeclaration[], topicPrefix = ''): ViewModel[] {
  const views = declarations.map((declaration) => compileView(declaration, topicPrefix));
  const byId = new Map<string, ViewModel>();
  for (const view of views) {
    if (byId.has(view.id)) throw invalid(view.id, 'declared twice');
    if (views.some((other) => other !== view && other.name === view.name)) throw invalid(view.id, `type name ${view.name} is used twice`);
    byId.set(view.id, view);
  }
  for (const view of views) {
    for (const relation of view.relations) {
      const declaration = relation.declaration;
      const target = byId.get(declaration.view);
      if (!target) throw invalid(view.id, `relation ${relation.name} targets unknown view ${declaration.view}`);
      if (view.fieldsByName.has(relation.name)) throw invalid(view.id, `relation ${relation.name} clashes with a field`);
      if (declaration.kind === 'one' && !view.fieldsByName.has(declaration.field)) {
        throw invalid(view.id, `relation ${relation.name} uses undeclared field ${declaration.field}`);
      }
      if (declaration.kind === 'many' && !target.filters.includes(declaration.foreignField)) {
        throw invalid(view.id, `relation ${relation.name} needs ${declaration.view}.${declaration.foreignField} among that view's filters`);
      }
      relation.target = target;
    }
  }
  const compiled = views.map((view) => ({ ...view, authorization: compileAuthorization(view) }));
  // Relations point at the models above; repoint them at the compiled ones.
  const compiledById = new Map(compiled.map((view) => [view.id, view]));
  for (const view of compiled) for (const relation of view.relations) relation.target = compiledById.get(relation.target.id)!;
  checkViaCycles(compiled);
  return compiled;
}

/** Imports every `*.ts` file of a directory; each must default-export a view declaration. */
export async function loadViewDeclarations(directory: string): Promise<ViewDeclaration[]> {
  let files: string[];
  try {
    files = (await readdir(directory)).filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts')).sort();
  } catch (error) {
    throw new GatewayError('GW_VIEW_INVALID', `cannot read views directory ${directory}`, { cause: error });
  }
  const declarations: ViewDeclaration[] = [];
  for (const file of files) {
    const module = (await import(pathToFileURL(path.join(directory, file)).href)) as { default?: ViewDeclaration };
    if (!module.default || typeof module.default !== 'object') {
      throw new GatewayError('GW_VIEW_INVALID', `${file} must default-export defineView({...})`);
    }
    declarations.push(module.default);
  }
  if (declarations.length === 0) throw new GatewayError('GW_VIEW_INVALID', `no view files in ${directory}`);
  return declarations;
}

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
  EnumFieldType,
  FieldDeclaration,
  RelationDeclaration,
  ScalarFieldType,
  ViewDeclaration,
} from './declaration.ts';

export interface FieldModel {
  readonly name: string;
  readonly type: ScalarFieldType | EnumFieldType;
  readonly description: string;
  readonly required: boolean;
  readonly pattern: RegExp | undefined;
  /** For enums, the allowed values as a set. */
  readonly enumValues: ReadonlySet<string> | undefined;
}

/**
 * One secondary index: entries `(filterValue?, sortValue, key)` in a partition, each holding the
 * row's `indexedFields` values so filters are checked without reading rows. `filter` is
 * undefined for the plain sort index (one per sort key). Selective (id-typed) filters get an
 * index per sort field, enum filters one per declared sort key; other filters (plain strings)
 * are checked on a sort index's values. Enum and string filters are also counted by counters.
 * Sorting by the key reads the rows directly.
 */
export interface IndexModel {
  /** Small stable number used in the storage key; derived from declaration order. */
  readonly id: number;
  readonly filter: string | undefined;
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
}

function invalid(view: string, message: string): GatewayError {
  return new GatewayError('GW_VIEW_INVALID', `view ${view}: ${message}`);
}

function compileField(view: string, name: string, declaration: FieldDeclaration): FieldModel {
  const type = declaration.type;
  if (typeof type === 'object' && type.values.length === 0) {
    throw invalid(view, `enum field ${name} has no values`);
  }
  return {
    name,
    type,
    description: declaration.description,
    required: declaration.required ?? true,
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

/** Finds the index that serves `(filter, sort)`, or undefined for the key order without a filter. */
export function findIndex(view: ViewModel, filter: string | undefined, sort: string): IndexModel | undefined {
  return view.indexes.find((index) => index.filter === filter && index.sort === sort);
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
  for (const sort of declaration.sortKeys) indexes.push({ id: indexes.length + 1, filter: undefined, sort });
  for (const filter of selectiveFilters) {
    for (const sort of sortFields) indexes.push({ id: indexes.length + 1, filter, sort });
  }
  // Enum filters also drive scans: their matches may cluster in time (the newest orders are rarely
  // SHIPPED yet), so checking them on a sort index's entries could read far more than a page.
  const enumFilters = countedFilters.filter((name) => typeof fieldsByName.get(name)!.type === 'object');
  for (const filter of enumFilters) {
    for (const sort of declaration.sortKeys) indexes.push({ id: indexes.length + 1, filter, sort });
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
  };
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
  return views;
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

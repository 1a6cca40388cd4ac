/**
 * What a view file in `views/` declares. A view is a compacted topic read as a table: one row per
 * record key, the latest value wins, a null value deletes. The engine derives storage, indexes,
 * GraphQL types, lookups, connections and relations from this declaration alone, so adding a view
 * is adding a file.
 */

export type ScalarFieldType = 'id' | 'string' | 'int' | 'float' | 'boolean' | 'timestamp';

export interface EnumFieldType {
  /** GraphQL enum type name, e.g. `OrderState`. */
  readonly enum: string;
  readonly values: readonly string[];
  readonly description: string;
}

export interface FieldDeclaration {
  readonly type: ScalarFieldType | EnumFieldType;
  readonly description: string;
  /** Defaults to true: a record without the field is invalid and goes to the dead-letter topic. */
  readonly required?: boolean;
  /** For strings: the value must match, e.g. ISO codes. Checked at ingest. */
  readonly pattern?: RegExp;
  /**
   * Whether the GraphQL field may be null; defaults to `!required`. A required field may be
   * declared nullable so that a field rule (`authorization.fields`) denies it with null rather
   * than with a GW_FIELD_FORBIDDEN error.
   */
  readonly nullable?: boolean;
}

/** A to-one relation: this row's `field` holds the key of a row in `view`. */
export interface OneRelation {
  readonly kind: 'one';
  readonly view: string;
  readonly field: string;
  readonly description: string;
}

/**
 * A to-many relation: rows of `view` whose `foreignField` equals this row's key. The foreign
 * field must be one of the target view's `filters`, so the relation is an index scan.
 * `list` returns every related row (small fan-out, e.g. an order's payments); `connection`
 * returns a paged, sortable, filterable Relay connection (large fan-out, e.g. a customer's orders).
 */
export interface ManyRelation {
  readonly kind: 'many';
  readonly view: string;
  readonly foreignField: string;
  readonly as: 'list' | 'connection';
  readonly description: string;
}

export type RelationDeclaration = OneRelation | ManyRelation;

/**
 * The verified claims of the caller's bearer token; undefined when client authentication is off
 * (or the claims are absent). Rules are functions of them.
 */
export type Claims = Readonly<Record<string, unknown>> | undefined;

/** One condition of a rule's filter: the field equals `eq`, or one of `in`. */
export interface RuleCondition {
  readonly eq?: string | number;
  readonly in?: readonly (string | number)[];
}

/**
 * Rows a rule lets the caller see, as a filter on the view's own declared `filters` (the shape
 * of a connection's `filter` argument, equality and `in` only): `{ customerId: { eq: 'cus-1' } }`.
 * Every condition must hold.
 */
export type RuleFilter = Readonly<Record<string, RuleCondition>>;

/**
 * A row rule: `'all'` (no restriction), `'none'`, or a filter, as a function of the claims. Or a
 * rule through a to-one relation, `{ via: 'order' }`: a row is visible iff the row its relation
 * points at is visible under the related view's own rule (a payment belongs to the customer of
 * its order). The relation's field must be one of this view's `filters`: the related view's
 * visible keys become an `in` condition on it.
 */
export type RowRule = ((claims: Claims) => 'all' | 'none' | RuleFilter) | { readonly via: string };

/** A field rule: whether the caller may see the field. */
export type FieldRule = (claims: Claims) => boolean;

/**
 * Who may see what of a view. Rules run for every read, with `claims` undefined when client
 * authentication is off: a deployment without it should use rules that answer `'all'` (and
 * `true`) for undefined.
 */
export interface AuthorizationDeclaration {
  readonly rows?: RowRule;
  /** Per declared field (not the key, which every global id carries), who may see it. */
  readonly fields?: Readonly<Record<string, FieldRule>>;
}

export interface ViewDeclaration {
  /** GraphQL object type name, e.g. `Order`. */
  readonly name: string;
  /** Plural used for the connection field, e.g. `orders`. */
  readonly plural: string;
  readonly description: string;
  /** Topic name before the deployment's `TOPIC_PREFIX`. */
  readonly topic: string;
  /** The field that equals the record key. */
  readonly key: string;
  /** `partitioned` follows the topic's partitions; `replicated` is held whole by every instance. */
  readonly placement?: 'partitioned' | 'replicated';
  readonly fields: Readonly<Record<string, FieldDeclaration>>;
  /** Fields a grid can sort by (besides the key, which is always sortable and breaks ties). */
  readonly sortKeys: readonly string[];
  /**
   * Fields a grid can filter by with equality or `in`. Id and enum fields get their own index per
   * sort key (id fields also by the key); other fields are checked on the sort indexes' entries.
   */
  readonly filters: readonly string[];
  /**
   * Further indexes, each over a combination of `filters` (one to three fields), kept per sort
   * key like the automatic ones: a grid that filters on those fields together, with equality or
   * `in`, reads only the entries it shows. For filter pairs a grid uses (`['state', 'currency']`)
   * or a plain string filter alone (`['currency']`). Every index costs each record a write.
   */
  readonly indexes?: readonly (readonly string[])[];
  readonly relations?: Readonly<Record<string, RelationDeclaration>>;
  /** Row and field rules, applied to every read of the view (see AuthorizationDeclaration). */
  readonly authorization?: AuthorizationDeclaration;
}

/** Identity function that gives view files type checking and editor help. */
export function defineView<const T extends ViewDeclaration>(view: T): T {
  return view;
}

/**
 * GraphQL names derived from declared names: root fields from view names, enum values from
 * field names.
 */

/** `sortKey` → `SORT_KEY`. */
export function constantCase(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/** `Customer` → `customer`. */
export function lowerFirst(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/**
 * The input types of connection arguments: per view a `<View>OrderField` enum of its sort
 * fields, `<View>Order`, and `<View>Filter` with one condition per indexed field. Condition
 * inputs are shared by every view: one per field type and set of operators, `<Type>Match`
 * (eq, in) for filters, `<Type>Range` (gt, gte, lt, lte) for sort keys, `<Type>Condition` for
 * fields that are both. `inputs.ts` turns the argument values into query requests.
 */
import type { FieldModel, ViewModel } from '../views/model.ts';
import type { AnyRef, Builder } from './builder.ts';
import { constantCase } from './names.ts';
import type { FieldTypes } from './scalars.ts';

/** The `orderBy` and `filter` arguments of a view's connections and list subscriptions. */
export type ConnectionInputs = (viewId: string, t: AnyRef) => Record<string, AnyRef>;

export interface ConnectionInputsOptions {
  readonly views: readonly ViewModel[];
  readonly fieldTypes: FieldTypes;
}

/** Adds every view's order and filter inputs to the builder; condition inputs follow as filters use them. */
export function defineConnectionInputs(builder: Builder, options: ConnectionInputsOptions): ConnectionInputs {
  const { fieldTypes } = options;

  const conditions = new Map<string, AnyRef>();
  const conditionInput = (field: FieldModel, equality: boolean, range: boolean): AnyRef => {
    const typeName = fieldTypes.typeName(field);
    const suffix = equality && range ? 'Condition' : equality ? 'Match' : 'Range';
    const name = `${typeName}${suffix}`;
    let ref = conditions.get(name);
    if (!ref) {
      const type = fieldTypes.outputType(field);
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

  const args = new Map<string, (t: AnyRef) => Record<string, AnyRef>>();
  for (const view of options.views) {
    const orderField = builder.enumType(`${view.name}OrderField`, {
      description: `Fields ${view.name} connections can be sorted by; ties are broken by ${view.keyField}.`,
      values: Object.fromEntries(view.sortFields.map((name) => [constantCase(name), { value: name, description: `Sort by ${name}.` }])),
    });
    const order = builder.inputType(`${view.name}Order`, {
      description: `Sort order of a ${view.name} connection.`,
      fields: (t) => ({
        field: t.field({ type: orderField, required: true, description: 'Field to sort by.' }),
        direction: t.field({ type: fieldTypes.sortDirection, defaultValue: 'ASC', description: 'Sort direction (default ASC).' }),
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
    args.set(view.id, (t) => ({
      orderBy: t.arg({ type: order, description: `Sort order (default: ${view.sortFields[0]} ascending).` }),
      filter: t.arg({ type: filter, description: 'Only objects matching all these conditions.' }),
    }));
  }
  return (viewId, t) => args.get(viewId)!(t);
}

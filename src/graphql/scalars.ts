/**
 * Scalars and enums shared by every view: the `DateTime` scalar, `SortDirection`, and one enum
 * type per declared enum (named after it, defined on first use so only enums that fields use
 * appear in the schema).
 */
import { GraphQLError, Kind } from 'graphql';
import type { EnumFieldType, ScalarFieldType } from '../views/declaration.ts';
import type { FieldModel } from '../views/model.ts';
import type { AnyRef, Builder } from './builder.ts';
import { normalizeTimestamp } from './inputs.ts';

const SCALAR: Record<ScalarFieldType, string> = {
  id: 'ID',
  string: 'String',
  int: 'Int',
  float: 'Float',
  boolean: 'Boolean',
  timestamp: 'DateTime',
};

export interface FieldTypes {
  /** The `SortDirection` enum. */
  readonly sortDirection: AnyRef;
  /** The GraphQL type of a field's values: a scalar, or its enum (defined by this call if new). */
  outputType(field: FieldModel): AnyRef;
  /** The name of that type, without defining it. */
  typeName(field: FieldModel): string;
}

/** Adds `DateTime` and `SortDirection` to the builder; declared enums follow as fields use them. */
export function defineScalars(builder: Builder): FieldTypes {
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

  const sortDirection = builder.enumType('SortDirection', {
    description: 'Direction of a sort order.',
    values: {
      ASC: { description: 'Smallest first; strings in UTF-8 byte order, timestamps oldest first.' },
      DESC: { description: 'Largest first; timestamps newest first.' },
    } as const,
  });

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

  return {
    sortDirection,
    outputType: (field) => (typeof field.type === 'object' ? enumRef(field.type) : SCALAR[field.type]),
    typeName: (field) => (typeof field.type === 'object' ? field.type.enum : SCALAR[field.type]),
  };
}

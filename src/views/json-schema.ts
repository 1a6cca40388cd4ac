/**
 * JSON Schema (draft 2020-12) of a view topic's record values, printed next to the GraphQL schema
 * in `schema/topics/` so producers can validate what they publish. It states the same rules
 * ingest enforces (src/ingest/decode.ts); undeclared properties are allowed and ignored.
 */
import type { ViewModel } from './model.ts';

export function valueJsonSchema(view: ViewModel): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const field of view.fields) {
    const type = field.type;
    let schema: Record<string, unknown>;
    if (typeof type === 'object') schema = { enum: [...type.values] };
    else if (type === 'int') schema = { type: 'integer' };
    else if (type === 'float') schema = { type: 'number' };
    else if (type === 'boolean') schema = { type: 'boolean' };
    else if (type === 'timestamp') schema = { type: 'string', format: 'date-time' };
    else schema = { type: 'string', ...(type === 'id' ? { minLength: 1 } : {}) };
    if (field.pattern) schema.pattern = field.pattern.source;
    properties[field.name] = { description: field.description, ...schema };
  }
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: `${view.topic} record value`,
    description: `${view.declaration.description} The record key equals \`${view.keyField}\`; a null value deletes the row.`,
    type: 'object',
    required: view.fields.filter((field) => field.required).map((field) => field.name),
    properties,
  };
}

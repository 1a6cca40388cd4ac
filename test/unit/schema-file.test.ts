import { readFile } from 'node:fs/promises';
import { buildSchema as parseSDL, isEnumType, isInputObjectType, isInterfaceType, isObjectType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { renderSchema, renderSchemaFiles } from '../../src/graphql/print-schema.ts';

describe('schema/schema.graphql', () => {
  it('and schema/topics/ are what the views produce (run `npm run schema` when this fails)', async () => {
    const files = await renderSchemaFiles();
    expect(files.size).toBe(4);
    for (const [file, content] of files) expect(await readFile(file, 'utf8'), file).toBe(content);
  });

  it('describes every type, field, argument and enum value', async () => {
    const schema = parseSDL(await renderSchema());
    const missing: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (type.name.startsWith('__') || ['String', 'Int', 'Float', 'Boolean', 'ID'].includes(type.name)) continue;
      if (!type.description) missing.push(type.name);
      if (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type)) {
        for (const field of Object.values(type.getFields())) {
          if (!field.description) missing.push(`${type.name}.${field.name}`);
          for (const arg of 'args' in field ? field.args : []) {
            if (!arg.description) missing.push(`${type.name}.${field.name}(${arg.name})`);
          }
        }
      }
      if (isEnumType(type)) {
        for (const value of type.getValues()) if (!value.description) missing.push(`${type.name}.${value.name}`);
      }
    }
    expect(missing).toEqual([]);
  });
});

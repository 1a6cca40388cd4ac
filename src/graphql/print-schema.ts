/**
 * Prints the schema built from `views/` to `schema/schema.graphql`, and the JSON Schema of each
 * view topic's values to `schema/topics/<topic>.schema.json` (or checks both with `--check`).
 * The printed files are committed; `test/unit/schema-file.test.ts` fails when they are stale.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { lexicographicSortSchema, printSchema } from 'graphql';
import { REPO_ROOT } from '../config.ts';
import { valueJsonSchema } from '../views/json-schema.ts';
import { compileViews, loadViewDeclarations } from '../views/model.ts';
import { buildSchema } from './schema.ts';

export const SCHEMA_DIR = path.join(REPO_ROOT, 'schema');
export const SCHEMA_FILE = path.join(SCHEMA_DIR, 'schema.graphql');

/** The SDL for a views directory, with the paging limits of a default configuration. */
export async function renderSchema(viewsDir = path.join(REPO_ROOT, 'views')): Promise<string> {
  const views = compileViews(await loadViewDeclarations(viewsDir));
  const schema = buildSchema(views, { defaultPageSize: 50, maxPageSize: 500 });
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}

/** Every generated file under schema/, by path: the SDL and one JSON Schema per view topic. */
export async function renderSchemaFiles(viewsDir = path.join(REPO_ROOT, 'views')): Promise<Map<string, string>> {
  const files = new Map([[SCHEMA_FILE, await renderSchema(viewsDir)]]);
  for (const view of compileViews(await loadViewDeclarations(viewsDir))) {
    files.set(path.join(SCHEMA_DIR, 'topics', `${view.topic}.schema.json`), `${JSON.stringify(valueJsonSchema(view), null, 2)}\n`);
  }
  return files;
}

if (import.meta.main) {
  const files = await renderSchemaFiles();
  const check = process.argv.includes('--check');
  let stale = false;
  for (const [file, content] of files) {
    if (check) {
      if ((await readFile(file, 'utf8').catch(() => '')) !== content) {
        process.stderr.write(`${path.relative(REPO_ROOT, file)} is stale: run npm run schema\n`);
        stale = true;
      }
      continue;
    }
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
    process.stdout.write(`wrote ${path.relative(REPO_ROOT, file)}\n`);
  }
  if (stale) process.exit(1);
}

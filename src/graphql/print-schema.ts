/**
 * Prints the schema built from `views/` to `schema/schema.graphql` (or checks it with `--check`).
 * The printed file is committed; `test/unit/schema-file.test.ts` fails when it is stale.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { lexicographicSortSchema, printSchema } from 'graphql';
import { REPO_ROOT } from '../config.ts';
import { compileViews, loadViewDeclarations } from '../views/model.ts';
import { buildSchema } from './schema.ts';

export const SCHEMA_FILE = path.join(REPO_ROOT, 'schema', 'schema.graphql');

/** The SDL for a views directory, with the paging limits of a default configuration. */
export async function renderSchema(viewsDir = path.join(REPO_ROOT, 'views')): Promise<string> {
  const views = compileViews(await loadViewDeclarations(viewsDir));
  const schema = buildSchema(views, { defaultPageSize: 50, maxPageSize: 500 });
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}

if (import.meta.main) {
  const sdl = await renderSchema();
  if (process.argv.includes('--check')) {
    const committed = await readFile(SCHEMA_FILE, 'utf8').catch(() => '');
    if (committed !== sdl) {
      process.stderr.write(`${SCHEMA_FILE} is stale: run npm run schema\n`);
      process.exit(1);
    }
  } else {
    await mkdir(path.dirname(SCHEMA_FILE), { recursive: true });
    await writeFile(SCHEMA_FILE, sdl);
    process.stdout.write(`wrote ${path.relative(REPO_ROOT, SCHEMA_FILE)}\n`);
  }
}

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configVariables, VARIABLE, variablesInSource } from '../support/config-variables.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** The variables of the README's configuration table: the first cell of each row under `## Configuration`. */
function readmeVariables(readme: string): Set<string> {
  const start = readme.indexOf('\n## Configuration\n');
  if (start < 0) throw new Error('README.md has no "## Configuration" section');
  const body = readme.slice(readme.indexOf('\n', start + 1) + 1);
  const next = body.search(/^#{1,3} /m);
  const section = next < 0 ? body : body.slice(0, next);
  const names = new Set<string>();
  for (const match of section.matchAll(/^\|\s*`([^`]+)`\s*\|/gm)) names.add(match[1]!);
  return names;
}

describe('README configuration table', () => {
  it('lists exactly the environment variables src/config.ts reads', async () => {
    const [readme, source] = await Promise.all([readFile(path.join(ROOT, 'README.md'), 'utf8'), readFile(path.join(ROOT, 'src/config.ts'), 'utf8')]);
    const documented = readmeVariables(readme);
    const named = variablesInSource(source);
    // At run time, with and without the settings that open optional branches (client auth).
    const read = configVariables();
    for (const name of read) expect(name, `loadConfig reads ${name}`).toMatch(VARIABLE);

    const inCode = new Set([...named, ...read]);
    expect(documented.size).toBeGreaterThan(20);
    expect([...inCode].filter((name) => !documented.has(name)).sort(), 'read by src/config.ts but missing from the README table').toEqual([]);
    expect([...documented].filter((name) => !inCode.has(name)).sort(), 'in the README table but not read by src/config.ts').toEqual([]);
    // Every name the source mentions is really read at run time, so the static scan cannot
    // drift from the code either (a renamed reader, a variable in a dead branch).
    expect([...named].filter((name) => !read.has(name)).sort(), 'named in src/config.ts but never read by loadConfig').toEqual([]);
  });

  it('the scanners find variables in each form they are written', () => {
    const source = [
      '/** KAFKA_COMMENTED is only mentioned: env.IN_COMMENT */',
      '// env.LINE_COMMENT',
      "const a = env.DIRECT || env['BRACKETED'];",
      "const b = integer(env, 'HELPER', 1, 0, 2);",
      "fail('FAILED', 'something', raw);",
      "const url = 'http://example.com'; const c = env.AFTER_URL;",
    ].join('\n');
    expect([...variablesInSource(source)].sort()).toEqual(['AFTER_URL', 'BRACKETED', 'DIRECT', 'FAILED', 'HELPER']);
    const readme =
      '# X\n\n## Configuration\n\n| variable | default |\n|---|---|\n| `ONE` | 1 |\n| `TWO` | 2 |\n\n### Metrics\n\n| `NOT_CONFIG` | x |\n';
    expect([...readmeVariables(readme)].sort()).toEqual(['ONE', 'TWO']);
  });
});

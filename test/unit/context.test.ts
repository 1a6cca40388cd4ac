/**
 * The per-request GraphQL context: what it holds must die young. A context that survives
 * young-generation collections takes its DataLoaders, rows and answer into the old generation
 * with it, which is what every lookup paid while the context had a getter (see context.ts).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createContext } from '../../src/graphql/context.ts';
import type { ViewReader } from '../../src/routing/reader.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('request context', () => {
  it('keeps a deadline set after yoga copied the context visible to the readers of the original', () => {
    const context = createContext({} as ViewReader);
    const copy = { ...context };
    expect(context.deadline).toBeUndefined();
    copy.setDeadline(1234);
    expect(context.deadline).toBe(1234);
  });

  it('is collected by young-generation GCs: 20,000 dropped contexts do not reach the old generation', () => {
    // A child with --expose-gc: it creates contexts holding a few kB each, drops them, runs two
    // young-generation collections and reports how much the old generation grew.
    const script = [
      "import v8 from 'node:v8';",
      `import { createContext } from ${JSON.stringify(path.join(ROOT, 'src/graphql/context.ts'))};`,
      "const old = () => v8.getHeapSpaceStatistics().find((space) => space.space_name === 'old_space').space_used_size;",
      "const minor = () => { gc({ type: 'minor', execution: 'sync' }); gc({ type: 'minor', execution: 'sync' }); };",
      'const round = () => { for (let i = 0; i < 20_000; i++) { const c = createContext({}); c.scopes.set(String(i), Promise.resolve(new Array(256).fill(i))); c.observe("t", { 0: String(i) }); } };',
      'round(); minor(); gc();',
      'const before = old();',
      'round(); minor();',
      'console.log(JSON.stringify({ grew: old() - before }));',
    ].join('\n');
    const child = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '--eval', script], { encoding: 'utf8' });
    expect(child.stderr).toBe('');
    const { grew } = JSON.parse(child.stdout) as { grew: number };
    // 20,000 contexts of about 2.5 kB each are 50 MB; what may grow is V8's own bookkeeping.
    expect(grew).toBeLessThan(2_000_000);
  });
});

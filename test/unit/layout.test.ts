import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The folder rules of the README's Architecture section, checked on the imports of every file
 * under src/. A record flows kafka -> ingest -> store -> subscriptions -> graphql -> server; a
 * request server -> graphql -> routing -> cluster -> query -> store, or through peer/ to the
 * owning instance. Lower layers never import higher ones.
 */

const ROOT = path.resolve(import.meta.dirname, '../..');
const SRC = path.join(ROOT, 'src');

/** Top-level modules every folder may import; they import no folder. */
const SHARED = ['errors.ts', 'log.ts', 'lru.ts', 'config.ts', 'tracing.ts'];

/** Per folder of src/, the other folders its files may import (besides SHARED). */
const MAY_IMPORT: Record<string, readonly string[]> = {
  views: [],
  kafka: [],
  store: ['views'],
  ingest: ['kafka', 'store', 'views'],
  query: ['store', 'views'],
  peer: ['query', 'store', 'views'],
  cluster: ['query', 'store', 'views'],
  routing: ['cluster', 'peer', 'query', 'store', 'views'],
  subscriptions: ['routing', 'cluster', 'peer', 'query', 'store', 'views'],
  graphql: ['subscriptions', 'routing', 'query', 'store', 'views'],
  server: ['graphql', 'subscriptions', 'routing', 'cluster', 'store', 'views'],
  demo: [],
  types: [],
  ui: [],
};

/** Top-level modules and what they may import (gateway.ts, the composition root, anything). */
const TOP_LEVEL: Record<string, readonly string[] | 'any'> = {
  'errors.ts': [],
  'log.ts': [],
  'lru.ts': [],
  'config.ts': ['errors.ts', 'log.ts'],
  'tracing.ts': [],
  'signals.ts': ['log.ts'],
  'gateway.ts': 'any',
  // The composition root of a read worker thread, started by src/server/read-workers.ts.
  'read-worker.ts': 'any',
  'main.ts': ['config.ts', 'errors.ts', 'log.ts', 'gateway.ts', 'signals.ts', 'tracing.ts'],
};

/** Packages only one folder may import. */
const PACKAGE_OWNERS: Record<string, string> = {
  kafkajs: 'kafka',
  '@nxtedition/rocksdb': 'store',
};

interface Import {
  /** Importing file, relative to src/ (e.g. `store/rocks.ts`). */
  readonly from: string;
  /** The specifier as written. */
  readonly specifier: string;
  /** For a relative specifier, the imported file relative to src/; otherwise undefined. */
  readonly target: string | undefined;
}

/**
 * The module specifiers a TypeScript source imports: `import … from`, `import type … from`,
 * `export … from`, side-effect `import '…'` and `import('…')` with a literal. Statements are
 * matched at the start of a line, so a comment line (` * import …`) does not count.
 */
function importSpecifiers(source: string): string[] {
  const found: string[] = [];
  const statements = /^[ \t]*(?:import|export)\b[^'"`;()=]*?\bfrom\s*(['"])([^'"]+)\1/gm;
  const sideEffects = /^[ \t]*import\s*(['"])([^'"]+)\1/gm;
  const dynamic = /\bimport\(\s*(['"])([^'"]+)\1\s*\)/g;
  for (const pattern of [statements, sideEffects, dynamic]) {
    for (const match of source.matchAll(pattern)) found.push(match[2]!);
  }
  return found;
}

function sourceFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(directory, entry.name);
    // Build output (src/ui/dist/, gitignored) is bundled code, not source.
    if (entry.isDirectory()) return entry.name === 'dist' ? [] : sourceFiles(full);
    return /\.(ts|mts|js|mjs)$/.test(entry.name) ? [full] : [];
  });
}

function collectImports(): Import[] {
  return sourceFiles(SRC).flatMap((file) => {
    const from = path.relative(SRC, file).split(path.sep).join('/');
    return importSpecifiers(readFileSync(file, 'utf8')).map((specifier): Import => {
      if (!specifier.startsWith('.')) return { from, specifier, target: undefined };
      const resolved = path
        .relative(SRC, path.resolve(path.dirname(file), specifier))
        .split(path.sep)
        .join('/');
      return { from, specifier, target: resolved };
    });
  });
}

/** The unit a src/ path belongs to: its top folder, or the file itself at the top level. */
function unitOf(relative: string): string {
  const slash = relative.indexOf('/');
  return slash < 0 ? relative : relative.slice(0, slash);
}

function isFolder(unit: string): boolean {
  return !unit.includes('.');
}

/** Why an import between two units breaks the rules, or undefined when it is allowed. */
function violation(fromUnit: string, toUnit: string): string | undefined {
  if (fromUnit === toUnit) return undefined;
  if (toUnit === 'ingest' && fromUnit !== 'gateway.ts') return 'ingest/ is imported only by src/gateway.ts';
  if (toUnit === 'gateway.ts' && fromUnit !== 'main.ts') return 'gateway.ts is imported only by main.ts';
  if (toUnit === 'main.ts') return 'main.ts is imported by nothing';
  if (isFolder(fromUnit)) {
    const allowed = MAY_IMPORT[fromUnit];
    if (!allowed) return `${fromUnit}/ has no rule in MAY_IMPORT (and no line in the README's Architecture table)`;
    if (SHARED.includes(toUnit) || allowed.includes(toUnit)) return undefined;
    return `${fromUnit}/ may import ${[...allowed.map((unit) => `${unit}/`), ...SHARED].join(', ')}`;
  }
  const allowed = TOP_LEVEL[fromUnit];
  if (!allowed) return `src/${fromUnit} has no rule in TOP_LEVEL`;
  if (allowed === 'any' || allowed.includes(toUnit)) return undefined;
  return `src/${fromUnit} may import ${allowed.join(', ') || 'nothing in src/'}`;
}

/** A cycle in the unit graph, as a path that starts and ends at the same unit, or undefined. */
function findCycle(edges: ReadonlyMap<string, ReadonlySet<string>>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (unit: string): string[] | undefined => {
    state.set(unit, 'open');
    stack.push(unit);
    for (const next of [...(edges.get(unit) ?? [])].sort()) {
      if (state.get(next) === 'open') return [...stack.slice(stack.indexOf(next)), next];
      if (state.get(next) === undefined) {
        const cycle = visit(next);
        if (cycle) return cycle;
      }
    }
    stack.pop();
    state.set(unit, 'done');
    return undefined;
  };
  for (const unit of [...edges.keys()].sort()) {
    if (state.get(unit) === undefined) {
      const cycle = visit(unit);
      if (cycle) return cycle;
    }
  }
  return undefined;
}

describe('source layout', () => {
  const imports = collectImports();
  const relative = imports.filter((entry) => entry.target !== undefined);
  const edges = new Map<string, Set<string>>();
  for (const entry of relative) {
    const fromUnit = unitOf(entry.from);
    const toUnit = unitOf(entry.target!);
    if (fromUnit === toUnit) continue;
    if (!edges.has(fromUnit)) edges.set(fromUnit, new Set());
    edges.get(fromUnit)!.add(toUnit);
  }
  const describeImport = (entry: Import) => `src/${entry.from} imports '${entry.specifier}'`;

  it('finds the imports it checks', () => {
    expect(
      importSpecifiers(
        "import a from './a.ts';\nimport type { B } from '../b.ts';\nexport * from './c.ts';\nimport './d.ts';\nconst e = await import('./e.ts');",
      ),
    ).toEqual(['./a.ts', '../b.ts', './c.ts', './d.ts', './e.ts']);
    expect(importSpecifiers("import {\n  a,\n  type B,\n} from './multi.ts';\n/**\n * import x from './in-a-comment.ts';\n */")).toEqual([
      './multi.ts',
    ]);
    // Known edges of the tree, so a parser that finds nothing cannot pass the rules below.
    expect(relative.some((entry) => entry.from === 'gateway.ts' && entry.target === 'ingest/ingestor.ts')).toBe(true);
    expect(relative.some((entry) => entry.from === 'main.ts' && entry.target === 'gateway.ts')).toBe(true);
    expect(imports.some((entry) => entry.from === 'kafka/client.ts' && entry.specifier === 'kafkajs')).toBe(true);
    expect(imports.some((entry) => entry.from === 'store/rocks.ts' && entry.specifier === '@nxtedition/rocksdb')).toBe(true);
  });

  it('relative imports resolve to files under src/', () => {
    const outside = relative.filter((entry) => entry.target!.startsWith('..')).map(describeImport);
    expect(outside).toEqual([]);
  });

  it('every folder of src/ has a rule, and the README lists it under Architecture', () => {
    const folders = readdirSync(SRC, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort();
    expect(folders.filter((folder) => !(folder in MAY_IMPORT))).toEqual([]);
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const start = readme.indexOf('\n## Architecture\n');
    expect(start).toBeGreaterThan(0);
    const rest = readme.slice(start + 1);
    const architecture = rest.slice(0, rest.indexOf('\n## ', 1) > 0 ? rest.indexOf('\n## ', 1) : undefined);
    for (const folder of folders) {
      const row = new RegExp(`^\\| \`${folder}/\` \\|.*\\|(.*)\\|$`, 'm').exec(architecture);
      expect(row, `README Architecture table row for ${folder}/`).not.toBeNull();
      // The table's "may import" column names the same folders as MAY_IMPORT.
      const listed = [...row![1]!.matchAll(/`([a-z]+)\/`/g)].map((match) => match[1]!).sort();
      expect(listed, `README "may import" of ${folder}/`).toEqual([...MAY_IMPORT[folder]!].sort());
    }
  });

  it('every import between folders and top-level modules follows the rules', () => {
    const broken = relative.flatMap((entry) => {
      const reason = violation(unitOf(entry.from), unitOf(entry.target!));
      return reason ? [`${describeImport(entry)}: ${reason}`] : [];
    });
    expect(broken, broken.join('\n')).toEqual([]);
  });

  it('no two folders import each other, directly or through others', () => {
    const cycle = findCycle(edges);
    expect(cycle, cycle && `import cycle: ${cycle.join(' -> ')}`).toBeUndefined();
  });

  it('lower layers never import higher ones: store/ imports no flow folder above it', () => {
    const above = ['query', 'routing', 'cluster', 'peer', 'subscriptions', 'graphql', 'server', 'ingest', 'kafka'];
    expect([...(edges.get('store') ?? [])].filter((unit) => above.includes(unit))).toEqual([]);
  });

  it('ingest/ is imported only by src/gateway.ts', () => {
    const importers = relative.filter((entry) => unitOf(entry.target!) === 'ingest' && unitOf(entry.from) !== 'ingest');
    expect([...new Set(importers.map((entry) => entry.from))]).toEqual(['gateway.ts']);
  });

  it('gateway.ts and main.ts are imported by nothing in src/ but main.ts importing gateway.ts', () => {
    const importers = relative.filter((entry) => entry.target === 'gateway.ts' || entry.target === 'main.ts').map(describeImport);
    expect(importers).toEqual(["src/main.ts imports './gateway.ts'"]);
  });

  it('KafkaJS is imported only under src/kafka/ and RocksDB only under src/store/', () => {
    const broken = imports
      .filter((entry) => entry.target === undefined)
      .filter((entry) => {
        const owner = Object.entries(PACKAGE_OWNERS).find(([name]) => entry.specifier === name || entry.specifier.startsWith(`${name}/`))?.[1];
        return owner !== undefined && unitOf(entry.from) !== owner;
      })
      .map(describeImport);
    expect(broken, broken.join('\n')).toEqual([]);
  });
});

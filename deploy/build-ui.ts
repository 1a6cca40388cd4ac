/**
 * `npm run build`: bundles the browser pages of `src/ui/` into `src/ui/dist/` (gitignored), which
 * the gateway serves (src/server/pages.ts). Every asset is bundled (esbuild): no page loads
 * anything from another host.
 *
 *   src/ui/grid/main.ts    -> src/ui/dist/grid.js (+ grid.js.map)
 *   src/ui/grid/grid.css   -> src/ui/dist/grid.css
 *   src/ui/grid/grid.html  -> src/ui/dist/grid.html
 *
 * Skips the work when every output is newer than every input (src/ui/**, package-lock.json);
 * `--force` builds anyway. `deploy/gw setup` runs it. Files are built in a directory of their own
 * and renamed into place, so a gateway serving the pages (or another build) never reads half a file.
 */
import { copyFile, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';

const ROOT = path.resolve(import.meta.dirname, '..');
const UI = path.join(ROOT, 'src', 'ui');
const DIST = path.join(UI, 'dist');
const OUTPUTS = ['grid.js', 'grid.css', 'grid.html'].map((name) => path.join(DIST, name));

async function newest(paths: readonly string[]): Promise<number> {
  let latest = 0;
  for (const file of paths) {
    const info = await stat(file);
    if (info.isDirectory()) {
      const names = await readdir(file);
      latest = Math.max(latest, await newest(names.filter((name) => name !== 'dist').map((name) => path.join(file, name))));
    } else {
      latest = Math.max(latest, info.mtimeMs);
    }
  }
  return latest;
}

async function upToDate(): Promise<boolean> {
  try {
    const built = Math.min(...(await Promise.all(OUTPUTS.map(async (file) => (await stat(file)).mtimeMs))));
    return built >= (await newest([UI, path.join(ROOT, 'package-lock.json')]));
  } catch {
    return false;
  }
}

export async function buildUi(options: { force?: boolean } = {}): Promise<'built' | 'up to date'> {
  if (!options.force && (await upToDate())) return 'up to date';
  const staging = path.join(DIST, `.build-${process.pid}-${Date.now()}`);
  await mkdir(staging, { recursive: true });
  try {
    await build({
      entryPoints: [
        { in: path.join(UI, 'grid', 'main.ts'), out: 'grid' },
        { in: path.join(UI, 'grid', 'grid.css'), out: 'grid' },
      ],
      outdir: staging,
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: ['es2022'],
      minify: true,
      sourcemap: true,
      legalComments: 'linked',
      logLevel: 'warning',
    });
    await copyFile(path.join(UI, 'grid', 'grid.html'), path.join(staging, 'grid.html'));
    for (const name of await readdir(staging)) await rename(path.join(staging, name), path.join(DIST, name));
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return 'built';
}

if (import.meta.main) {
  const started = Date.now();
  buildUi({ force: process.argv.includes('--force') }).then(
    (result) => process.stdout.write(`ui: ${result} (src/ui/dist, ${Date.now() - started} ms)\n`),
    (error: unknown) => {
      process.stderr.write(`ui build failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}

/**
 * A copy of a stopped gateway's store for an A/B script: its table files hard-linked (RocksDB
 * never changes a table file, and a compaction in one copy only unlinks its own name), every
 * other file (manifest, write-ahead log, options) copied. Made next to the store, so the links
 * stay on one file system; the caller removes it.
 */
import { copyFileSync, linkSync, mkdtempSync, readdirSync } from 'node:fs';
import path from 'node:path';

export function linkedStoreCopy(dataDir: string, tag: string): string {
  const copy = mkdtempSync(`${path.resolve(dataDir)}.${tag}-`);
  for (const name of readdirSync(dataDir)) {
    if (name === 'LOCK') continue;
    if (name.endsWith('.sst')) linkSync(path.join(dataDir, name), path.join(copy, name));
    else copyFileSync(path.join(dataDir, name), path.join(copy, name));
  }
  return copy;
}

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERRORS, GatewayError } from '../../src/errors.ts';

describe('error registry', () => {
  it('every code follows GW_<AREA>_<PROBLEM> and maps to a 4xx or 5xx status', () => {
    for (const [code, spec] of Object.entries(ERRORS)) {
      expect(code).toMatch(/^GW_[A-Z]+_[A-Z_]+$/);
      expect(spec.status).toBeGreaterThanOrEqual(400);
      expect(spec.status).toBeLessThan(600);
    }
  });

  it('the README error table lists exactly the registry, with the same retriable flags and summaries', async () => {
    const readme = await readFile(path.resolve(import.meta.dirname, '../../README.md'), 'utf8');
    const rows = [...readme.matchAll(/^\| `(GW_[A-Z_]+)` \| (yes|no) \| (.+) \|$/gm)].map((match) => ({
      code: match[1]!,
      retriable: match[2] === 'yes',
      summary: match[3]!,
    }));
    expect(rows.map((row) => row.code).sort()).toEqual(Object.keys(ERRORS).sort());
    for (const row of rows) {
      const spec = ERRORS[row.code as keyof typeof ERRORS];
      expect(row.retriable, row.code).toBe(spec.retriable);
      expect(row.summary, row.code).toBe(spec.summary);
    }
  });

  it('a GatewayError carries its code, retriable flag, status and cause', () => {
    const cause = new Error('disk');
    const error = new GatewayError('GW_STORE_UNAVAILABLE', 'store closed', { cause, details: { view: 'orders' } });
    expect(error).toMatchObject({ code: 'GW_STORE_UNAVAILABLE', retriable: true, status: 503, details: { view: 'orders' } });
    expect(error.cause).toBe(cause);
  });
});

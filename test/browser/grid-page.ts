/**
 * Reading and driving the grid page (`/grid`) from a test, through what the page shows: its
 * rows (`.grid-row[data-key]` in DOM order), the data attributes of `#grid`, and mouse-wheel
 * scrolling over the grid.
 */
import type { Page } from 'playwright-core';
import { text } from './browser.ts';

export interface GridState {
  phase: string;
  reading: boolean;
  generation: number;
  rows: number;
  hasPrevious: boolean;
  hasNext: boolean;
  total: number | undefined;
  live: string;
}

export async function gridState(page: Page): Promise<GridState> {
  const grid = page.locator('#grid');
  const attribute = async (name: string) => (await grid.getAttribute(`data-${name}`)) ?? '';
  const total = await attribute('total');
  return {
    phase: await attribute('phase'),
    reading: (await attribute('reading')) === 'true',
    generation: Number(await attribute('generation')),
    rows: Number(await attribute('rows')),
    hasPrevious: (await attribute('has-previous')) === 'true',
    hasNext: (await attribute('has-next')) === 'true',
    total: total === '' ? undefined : Number(total),
    live: await attribute('live'),
  };
}

/** The keys of the rows in the DOM (those in view plus a few), top to bottom. */
export async function renderedKeys(page: Page): Promise<string[]> {
  return page.locator('#grid-body .grid-row').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-key') ?? ''));
}

/** The keys of the rows whose top edge is inside the scroll area, top to bottom, with their top edge relative to the area's. */
export async function visibleRows(page: Page): Promise<Array<{ key: string; top: number }>> {
  const area = await page.locator('#grid-scroll').boundingBox();
  if (!area) return [];
  const rows = await page
    .locator('#grid-body .grid-row')
    .evaluateAll((elements) =>
      elements.map((element) => ({ key: element.getAttribute('data-key') ?? '', top: element.getBoundingClientRect().top })),
    );
  return rows.filter((row) => row.top >= area.y - 0.5 && row.top < area.y + area.height).map((row) => ({ key: row.key, top: row.top - area.y }));
}

/** The text of one cell of the row `key`. */
export function cell(page: Page, key: string, column: string) {
  return page.locator(`#grid-body .grid-row[data-key="${key}"] [data-col="${column}"]`);
}

/** Waits until the grid has read its page(s) and shows them (no read in flight); the error says what the page shows. */
export async function settled(page: Page): Promise<void> {
  try {
    await page.locator('#grid[data-phase="ready"][data-reading="false"]').waitFor({ timeout: 30_000 });
  } catch (error) {
    const status = await text(page.locator('.status'));
    throw new Error(`the grid did not settle: ${JSON.stringify(await gridState(page).catch(() => undefined))}, status "${status}"`, { cause: error });
  }
}

/** Scrolls the grid by `pixels` (negative: up) with the mouse wheel and waits until it has settled. */
export async function wheel(page: Page, pixels: number): Promise<void> {
  const area = await page.locator('#grid-scroll').boundingBox();
  if (!area) throw new Error('the grid is not on screen');
  await page.mouse.move(area.x + area.width / 2, area.y + area.height / 2);
  await page.mouse.wheel(0, pixels);
  // The scroll event, then any page read it starts.
  await page.waitForTimeout(120);
  await settled(page);
}

/** Scrolls up until the grid shows its first row at the top (at most `steps` wheel turns). */
export async function scrollToTop(page: Page, steps = 100): Promise<void> {
  const scroll = page.locator('#grid-scroll');
  for (let step = 0; step < steps; step++) {
    const state = await gridState(page);
    if (!state.hasPrevious && (await scroll.evaluate((element) => element.scrollTop)) === 0) return;
    await wheel(page, -2000);
  }
  throw new Error(`the grid did not reach its first row in ${steps} wheel turns`);
}

/**
 * Appends `next` (the rows rendered now, in order) to `seen` (the rows seen so far, in order):
 * `next` must overlap the end of `seen`, or the scrolling skipped rows. Returns the new rows.
 */
export function extend(seen: string[], next: readonly string[]): string[] {
  if (seen.length === 0) {
    seen.push(...next);
    return [...next];
  }
  const at = next.lastIndexOf(seen[seen.length - 1]!);
  if (at < 0)
    throw new Error(`no overlap between the rows seen (…${seen.slice(-3).join(', ')}) and the rows rendered now (${next.slice(0, 3).join(', ')}…)`);
  const added = next.slice(at + 1);
  seen.push(...added);
  return added;
}

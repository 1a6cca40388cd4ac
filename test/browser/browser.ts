/**
 * Headless Chromium for the browser tests: Debian's /usr/bin/chromium driven by playwright-core,
 * with its network limited to what the page asks for (no background requests of its own). The
 * tests skip, saying why, only when Chromium is missing outside CI; in CI (CI set) they run and a
 * missing Chromium fails them. The pages are built (`npm run build`) before the first browser starts.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { buildUi } from '../../deploy/build-ui.ts';
import type { Fixture } from '../support/fixture.ts';

export const CHROMIUM = '/usr/bin/chromium';
/** Timeout of each browser test (a page load, scrolling through a connection, live changes). */
export const BROWSER_TEST_TIMEOUT_MS = 180_000;
/** Screenshots of the pages, kept as test artifacts (gitignored). */
export const ARTIFACTS = path.resolve(import.meta.dirname, 'artifacts');

/** Why the browser tests cannot run here, or undefined when they can (they always run in CI). */
export function skipReason(): string | undefined {
  if (existsSync(CHROMIUM) || process.env.CI) return undefined;
  return `${CHROMIUM} is missing: install Debian's chromium (deploy/gw setup does) to run the browser tests`;
}

export interface Session {
  readonly browser: Browser;
  readonly context: BrowserContext;
  readonly page: Page;
  /** Every URL the page and its workers requested (HTTP and WebSocket), in order. */
  readonly requests: string[];
  /** The JSON bodies of the page's POSTs to /graphql. */
  readonly graphqlBodies: Array<{ query: string; variables?: Record<string, unknown> }>;
}

/** Builds the pages if they are stale and opens a browser with one page; closed with the fixture's scope. */
export async function openBrowser(fx: Fixture): Promise<Session> {
  await buildUi();
  await mkdir(ARTIFACTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  fx.defer(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 1500, height: 820 } });
  const requests: string[] = [];
  const graphqlBodies: Session['graphqlBodies'] = [];
  context.on('request', (request) => {
    requests.push(request.url());
    if (request.method() === 'POST' && new URL(request.url()).pathname === '/graphql') {
      const body = request.postData();
      if (body) graphqlBodies.push(JSON.parse(body) as Session['graphqlBodies'][number]);
    }
  });
  const page = await context.newPage();
  page.on('websocket', (socket) => requests.push(socket.url()));
  return { browser, context, page, requests, graphqlBodies };
}

/** The text of the first element `locator` finds, or '' when there is none within two seconds. */
export async function text(locator: Locator): Promise<string> {
  return (
    (await locator
      .first()
      .textContent({ timeout: 2000 })
      .catch(() => null)) ?? ''
  );
}

/**
 * The requests that left the gateway's origin. Blob and data URLs are made in the page itself
 * (GraphiQL starts its editor workers from blobs) and count as local.
 */
export function foreignRequests(requests: readonly string[], gatewayUrl: string): string[] {
  const origin = new URL(gatewayUrl);
  return requests.filter((url) => {
    const parsed = new URL(url);
    if (parsed.protocol === 'data:') return false;
    if (parsed.protocol === 'blob:') return new URL(parsed.pathname).origin !== origin.origin;
    return parsed.host !== origin.host;
  });
}

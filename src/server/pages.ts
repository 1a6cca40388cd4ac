/**
 * The browser pages the gateway serves besides GraphiQL: `/` redirects to `/grid`, `/grid` is the
 * live orders grid, `/ui/<file>` its bundled assets, all read from `src/ui/dist/` (built by
 * `npm run build`, see deploy/build-ui.ts). The pages hold no data (they read it through
 * /graphql like any client), so they are served without client authentication. Their Content
 * Security Policy lets them load and connect only to the origin they came from.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';

const DIST = path.resolve(import.meta.dirname, '..', 'ui', 'dist');
const ASSET = /^\/ui\/([a-z0-9][a-z0-9.-]*\.(?:js|css|map))$/;
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/** Same origin only; `connect-src` names the WebSocket origin explicitly for browsers whose 'self' omits ws:. */
function contentSecurityPolicy(request: IncomingMessage): string {
  const host = request.headers.host ?? '';
  const sockets = /^[A-Za-z0-9.:[\]-]+$/.test(host) ? ` ws://${host} wss://${host}` : '';
  return `default-src 'self'; connect-src 'self'${sockets}; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;
}

async function sendFile(request: IncomingMessage, response: ServerResponse, file: string): Promise<void> {
  let body: Buffer;
  try {
    body = await readFile(path.join(DIST, file));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    response
      .writeHead(file.endsWith('.html') ? 503 : 404, { 'content-type': 'text/plain; charset=utf-8' })
      .end(`${file} is not built: run \`npm run build\` (deploy/gw setup runs it)\n`);
    return;
  }
  response.writeHead(200, {
    'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
    'content-length': body.length,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    ...(file.endsWith('.html') ? { 'content-security-policy': contentSecurityPolicy(request), 'referrer-policy': 'no-referrer' } : {}),
  });
  response.end(request.method === 'HEAD' ? undefined : body);
}

/**
 * Answers a request for one of the pages or their assets and returns true; returns false for any
 * other request (left to the caller).
 */
export function servePage(request: IncomingMessage, response: ServerResponse, pathname: string): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  let file: string | undefined;
  if (pathname === '/') {
    response.writeHead(302, { location: '/grid', 'content-length': 0 }).end();
    return true;
  }
  if (pathname === '/grid') file = 'grid.html';
  else file = ASSET.exec(pathname)?.[1];
  if (file === undefined) return false;
  sendFile(request, response, file).catch((error: unknown) => {
    if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('could not read the page\n');
    else response.destroy(error instanceof Error ? error : undefined);
  });
  return true;
}

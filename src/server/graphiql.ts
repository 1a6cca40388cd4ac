/**
 * GraphiQL as the gateway serves it at /graphql (a GET for text/html): yoga's offline renderer
 * (`@graphql-yoga/render-graphiql`), whose page carries GraphiQL's script, styles and editor
 * workers inline, so the page makes no request to any other host.
 *
 * The example query opens in the editor on every visit whose URL carries no `?query=`: it is
 * GraphiQL's `initialQuery`, which selects the tab holding it (adding one when none does) and
 * leaves the other tabs GraphiQL keeps in the browser's local storage. `defaultQuery` alone is
 * used only when the browser has no stored query or tabs for the origin, so a browser that once
 * showed GraphiQL's welcome comment there would keep showing it. A URL with `?query=` (GraphiQL
 * writes the edited query there) opens that query instead.
 */
import { Worker } from 'node:worker_threads';
import type { GraphiQLOptions } from 'graphql-yoga';

const TITLE = 'Kafka GraphQL gateway';

/** The `graphiql` option of createYoga: options per request, as above. */
export function graphiqlOptions(exampleQuery: string | undefined): (request: Request) => GraphiQLOptions {
  const plain: GraphiQLOptions = { title: TITLE };
  if (!exampleQuery) return () => plain;
  const fromUrl: GraphiQLOptions = { title: TITLE, defaultQuery: exampleQuery };
  // `initialQuery` is a GraphiQL prop that yoga's page passes through (its type does not list it).
  const withExample: GraphiQLOptions & { initialQuery: string } = { ...fromUrl, initialQuery: exampleQuery };
  return (request) => (new URL(request.url).searchParams.has('query') ? fromUrl : withExample);
}

/**
 * The `renderGraphiQL` option of createYoga. A page is about 9 MB of inline script. Each distinct
 * set of options (at most two per instance: with and without the example query) is rendered once,
 * by a worker thread (src/server/graphiql-render.ts says why), and kept as bytes outside the V8
 * heap. Requests that arrive while a page renders wait for the same render; a failed render is
 * not kept, so the next request tries again.
 */
export function offlineGraphiql(): (options?: GraphiQLOptions) => Promise<Uint8Array<ArrayBuffer>> {
  const pages = new Map<string, Promise<Uint8Array<ArrayBuffer>>>();
  return (options) => {
    const key = JSON.stringify(options ?? {});
    let page = pages.get(key);
    if (page === undefined) {
      page = renderInWorker(options ?? {});
      pages.set(key, page);
      page.catch(() => pages.delete(key));
    }
    return page;
  };
}

function renderInWorker(options: GraphiQLOptions): Promise<Uint8Array<ArrayBuffer>> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./graphiql-render.ts', import.meta.url), { workerData: options });
    let page: Uint8Array<ArrayBuffer> | undefined;
    worker.once('message', (bytes: Uint8Array<ArrayBuffer>) => {
      page = bytes;
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (page) resolve(page);
      else reject(new Error(`the GraphiQL page could not be rendered (worker exit code ${code})`));
    });
  });
}

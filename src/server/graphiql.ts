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
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
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
 * The `renderGraphiQL` option of createYoga. The page is about 9 MB of inline script; it is
 * built once per distinct options and reused.
 */
export function offlineGraphiql(): (options?: GraphiQLOptions) => string {
  const pages = new Map<string, string>();
  return (options) => {
    const key = JSON.stringify(options ?? {});
    let page = pages.get(key);
    if (page === undefined) {
      page = renderGraphiQL(options);
      pages.set(key, page);
    }
    return page;
  };
}

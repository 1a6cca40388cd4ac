/**
 * Per-request context: the reader, and DataLoaders created fresh for each request so batching
 * spans one request and nothing is cached across requests (rows change with every batch).
 */
import DataLoader from 'dataloader';
import type { PageRequest } from '../query/page.ts';
import type { Page, ViewReader } from '../routing/reader.ts';
import type { Row } from '../store/view-store.ts';

export interface GraphQLContext {
  readonly reader: ViewReader;
  /** Views this request read, for the freshness report in `extensions`. */
  readonly viewsRead: Set<string>;
  /**
   * Applied offsets per topic and partition when the request started: every row the request
   * reads reflects at least these offsets.
   */
  readonly freshness: Readonly<Record<string, Readonly<Record<string, string>>>>;
  rows(viewId: string): DataLoader<string, Row | undefined>;
  related(viewId: string, field: string): DataLoader<string, Row[]>;
  /** Connection pages of a view, batched so nested connections share reads. */
  pages(viewId: string): DataLoader<PageRequest, Page, string>;
}

/** Upper bound on the rows a list relation (e.g. `Order.payments`) returns per parent. */
export const RELATED_LIST_LIMIT = 1000;

export function createContext(reader: ViewReader): GraphQLContext {
  const rowLoaders = new Map<string, DataLoader<string, Row | undefined>>();
  const relatedLoaders = new Map<string, DataLoader<string, Row[]>>();
  const pageLoaders = new Map<string, DataLoader<PageRequest, Page, string>>();
  const viewsRead = new Set<string>();
  return {
    reader,
    viewsRead,
    freshness: reader.freshness(reader.views.map((view) => view.id)),
    rows(viewId) {
      let loader = rowLoaders.get(viewId);
      if (!loader) {
        loader = new DataLoader(async (keys) => {
          viewsRead.add(viewId);
          return reader.lookup(viewId, keys);
        });
        rowLoaders.set(viewId, loader);
      }
      return loader;
    },
    related(viewId, field) {
      const id = `${viewId}.${field}`;
      let loader = relatedLoaders.get(id);
      if (!loader) {
        loader = new DataLoader(async (values) => {
          viewsRead.add(viewId);
          const found = reader.related(viewId, field, values, RELATED_LIST_LIMIT);
          return values.map((value) => found.get(value) ?? []);
        });
        relatedLoaders.set(id, loader);
      }
      return loader;
    },
    pages(viewId) {
      let loader = pageLoaders.get(viewId);
      if (!loader) {
        loader = new DataLoader(
          async (requests) => {
            viewsRead.add(viewId);
            return reader.pages(viewId, requests);
          },
          { cacheKeyFn: (request) => JSON.stringify(request) },
        );
        pageLoaders.set(viewId, loader);
      }
      return loader;
    },
  };
}

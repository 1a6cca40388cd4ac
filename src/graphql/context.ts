/**
 * Per-request context: the reader, and DataLoaders created fresh for each request so batching
 * spans one request and nothing is cached across requests (rows change with every batch).
 */
import DataLoader from 'dataloader';
import type { PageRequest } from '../query/page.ts';
import { encodeToken, type Offsets } from '../routing/consistency.ts';
import type { RowScope } from '../routing/authorization.ts';
import type { Page, ReadContext, ViewReader } from '../routing/reader.ts';
import type { Row } from '../store/view-store.ts';
import type { Hub } from '../subscriptions/hub.ts';

export interface GraphQLContext extends ReadContext {
  readonly reader: ViewReader;
  /**
   * Per topic and partition read, the next offset to apply when it was read (the lowest, if it
   * was read more than once): every row in the answer reflects at least these offsets.
   */
  readonly freshness: Record<string, Record<string, string>>;
  /** Per topic, partitions read whose ingest waits (partition -> since, ISO time). */
  readonly stalled: Record<string, Record<string, string>>;
  rows(viewId: string): DataLoader<string, Row | undefined>;
  related(viewId: string, field: string): DataLoader<string, Row[]>;
  /** Connection pages of a view, batched so nested connections share reads. */
  pages(viewId: string): DataLoader<PageRequest, Page, string>;
  /** When a running query must stop reading (QUERY_TIMEOUT_MS), in epoch ms. */
  readonly deadline: number | undefined;
  /**
   * Sets the deadline. A method, not a field to assign: yoga hands resolvers a copy of the
   * context, while the DataLoaders read through the original.
   */
  setDeadline(epochMs: number): void;
  /** The subscription hub, where subscriptions are served. */
  readonly hub: Hub | undefined;
  /**
   * The verified claims of the client's bearer token (client authentication on), for
   * authorization rules; undefined without client authentication. The reader applies the
   * views' row rules for them to every read of the request; field rules apply where fields resolve.
   */
  readonly claims: Readonly<Record<string, unknown>> | undefined;
  /** The request's row scopes by view, resolved by the reader on first use. */
  readonly scopes: Map<string, Promise<RowScope>>;
  /**
   * Drops the DataLoaders' caches. A subscription's context lives as long as the subscription;
   * each event starts with empty caches so joined fields are read fresh.
   */
  resetLoaders(): void;
}

/** Upper bound on the rows a list relation (e.g. `Order.payments`) returns per parent. */
export const RELATED_LIST_LIMIT = 1000;

export function createContext(reader: ViewReader, required?: Offsets, hub?: Hub, claims?: Readonly<Record<string, unknown>>): GraphQLContext {
  const rowLoaders = new Map<string, DataLoader<string, Row | undefined>>();
  const relatedLoaders = new Map<string, DataLoader<string, Row[]>>();
  const pageLoaders = new Map<string, DataLoader<PageRequest, Page, string>>();
  const freshness: Record<string, Record<string, string>> = {};
  const stalled: Record<string, Record<string, string>> = {};
  const scopes = new Map<string, Promise<RowScope>>();
  // `deadline` is a data property that `setDeadline` assigns on this object, not a getter: an
  // object literal with a getter gets a hidden class of its own, allocated in the old
  // generation, whose reference to the getter keeps the whole request (its DataLoaders, rows
  // and answer) alive through young-generation collections until a full one. Under lookups
  // that promoted about 2 MB per scavenge in a read worker and tripled the scavenges' pauses.
  const context: Omit<GraphQLContext, 'deadline'> & { deadline: number | undefined } = {
    reader,
    deadline: undefined,
    setDeadline(epochMs) {
      context.deadline = epochMs;
    },
    freshness,
    stalled,
    required,
    hub,
    claims,
    scopes,
    resetLoaders() {
      rowLoaders.clear();
      // A scope through a relation is read again too: it may have changed since the last event.
      scopes.clear();
      relatedLoaders.clear();
      pageLoaders.clear();
      for (const topic of Object.keys(freshness)) delete freshness[topic];
      for (const topic of Object.keys(stalled)) delete stalled[topic];
    },
    observeStalled(topic, partitions) {
      Object.assign((stalled[topic] ??= {}), partitions);
    },
    observe(topic, offsets) {
      const seen = (freshness[topic] ??= {});
      for (const [partition, offset] of Object.entries(offsets)) {
        const before = seen[partition];
        if (before === undefined || BigInt(offset) < BigInt(before)) seen[partition] = offset;
      }
    },
    rows(viewId) {
      let loader = rowLoaders.get(viewId);
      if (!loader) {
        loader = new DataLoader((keys) => reader.lookup(viewId, keys, context));
        rowLoaders.set(viewId, loader);
      }
      return loader;
    },
    related(viewId, field) {
      const id = `${viewId}.${field}`;
      let loader = relatedLoaders.get(id);
      if (!loader) {
        loader = new DataLoader(async (values) => {
          const found = await reader.related(viewId, field, values, RELATED_LIST_LIMIT, context);
          return values.map((value) => found.get(value) ?? []);
        });
        relatedLoaders.set(id, loader);
      }
      return loader;
    },
    pages(viewId) {
      let loader = pageLoaders.get(viewId);
      if (!loader) {
        loader = new DataLoader((requests) => reader.pages(viewId, requests, context), {
          cacheKeyFn: (request) => JSON.stringify(request),
        });
        pageLoaders.set(viewId, loader);
      }
      return loader;
    },
  };
  return context;
}

/**
 * What every query answer carries in `extensions`, yoga's and the fast path's alike: the offsets
 * read, the consistency token for them, and the partitions read whose ingest waits (the
 * dead-letter topic refuses writes: rows are as of `freshness`, newer records wait).
 */
export function freshnessExtensions(context: Pick<GraphQLContext, 'freshness' | 'stalled'>): Record<string, unknown> {
  return {
    freshness: context.freshness,
    consistencyToken: encodeToken(context.freshness),
    ...(Object.keys(context.stalled).length > 0 ? { stalled: context.stalled } : {}),
  };
}

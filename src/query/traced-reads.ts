/**
 * Local reads in `store <read>` spans (src/tracing.ts), made only inside a traced request: a
 * GraphQL operation on this instance, or a peer call answered here. With tracing off the reads
 * are called directly.
 */
import { inSpan, tracingEnabled } from '../tracing.ts';
import type { LocalReads } from './local-reads.ts';

/** `size` is the partitions read, or for a lookup the keys. */
const traced = <T>(read: string, view: string, size: number, fn: () => T): T =>
  tracingEnabled() ? inSpan(`store ${read}`, { onlyInTrace: true, attributes: { 'gw.view': view, [read === 'lookup' ? 'gw.keys' : 'gw.partitions.count']: size } }, fn) : fn();

export function tracedLocalReads(local: LocalReads): LocalReads {
  return {
    store: (viewId) => local.store(viewId),
    lookup: (viewId, refs) => traced('lookup', viewId, refs.length, () => local.lookup(viewId, refs)),
    pages: (viewId, partitions, requests) => traced('pages', viewId, partitions.length, () => local.pages(viewId, partitions, requests)),
    count: (viewId, partitions, filter) => traced('count', viewId, partitions.length, () => local.count(viewId, partitions, filter)),
    related: (viewId, partitions, field, values, limit) =>
      traced('related', viewId, partitions.length, () => local.related(viewId, partitions, field, values, limit)),
    offsets: (viewId, partitions) => local.offsets(viewId, partitions),
  };
}

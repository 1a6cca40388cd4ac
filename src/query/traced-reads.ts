/**
 * Local reads in `store <read>` spans (src/tracing.ts), made only inside a traced request: a
 * GraphQL operation on this instance, or a peer call answered here. With tracing off the reads
 * are called directly.
 */
import { inSpan, tracingEnabled } from '../tracing.ts';
import type { LocalReads } from './local-reads.ts';

/** `size` is the partitions read, or for a lookup the keys. */
const traced = <T>(read: string, view: string, size: number, fn: () => T): T =>
  tracingEnabled()
    ? inSpan(
        `store ${read}`,
        { onlyInTrace: true, attributes: { 'gw.view': view, [read === 'lookup' ? 'gw.keys' : 'gw.partitions.count']: size } },
        fn,
      )
    : fn();

export function tracedLocalReads(local: LocalReads): LocalReads {
  // Every argument is forwarded as given (rest parameters), so an argument added to a read, such
  // as the caller's row filter, cannot be dropped here.
  return {
    store: (...args) => local.store(...args),
    lookup: (...args) => traced('lookup', args[0], args[1].length, () => local.lookup(...args)),
    pages: (...args) => traced('pages', args[0], args[1].length, () => local.pages(...args)),
    count: (...args) => traced('count', args[0], args[1].length, () => local.count(...args)),
    related: (...args) => traced('related', args[0], args[1].length, () => local.related(...args)),
    offsets: (...args) => local.offsets(...args),
  };
}

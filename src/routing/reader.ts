/**
 * The read side GraphQL sees: lookups, pages, counts and relation fan-out over a view, answered
 * as if one instance held every partition. Each call splits the partitions it needs by owner
 * (ownership.ts), reads local ones from the store and the rest from their owners with one peer
 * call per owner, checks what peers return, and merges.
 *
 * A peer that says "not owner" makes the reader refresh its partition map and retry once. A
 * partition nobody serves fails the call with a code naming it: never a silently partial answer.
 *
 * One unit: the four read operations share one scatter-gather (`scatter`) with its routing,
 * fallback and deadline rules, and each operation is the few lines that split its request and
 * check its peers' answers.
 *
 * Authorization is enforced here, for every read path: each operation first resolves the
 * caller's row scope of the view (authorization.ts, from `context.claims`, once per request and
 * view) and AND-s it into what it reads: lookups and relation lists filter by it, pages and
 * counts add it to their filter. Peer requests carry it in their filter, so the owning instance
 * applies it, and rows a peer returns outside it are refused as a bad response.
 */
import { GatewayError, isGatewayError } from '../errors.ts';
import { matchesFilter, NO_FILTER, type Filter, type PageRequest, type PageRow } from '../query/page.ts';
import type { Claims } from '../views/declaration.ts';
import { MAX_VIA_KEYS, resolveScope, restrict, type RowScope } from './authorization.ts';
import type { Row } from '../store/view-store.ts';
import type { ViewModel } from '../views/model.ts';
import { compareEntries, type LocalReads, type PartialPage, type RelatedRow } from '../query/local-reads.ts';
import { requiredFor, type Offsets } from './consistency.ts';
import type { OffsetWaiter } from '../store/offset-waiter.ts';
import type { Ownership } from '../cluster/ownership.ts';
import type { PeerCall, PeerClient } from '../peer/client.ts';
import type { Partitioner } from '../cluster/partitioner.ts';

export interface Page {
  readonly rows: PageRow[];
  readonly hasNextPage: boolean;
  readonly hasPreviousPage: boolean;
}

/** Per request: collects the offsets each partition was read at; may require minimum offsets. */
export interface ReadContext {
  observe(topic: string, offsets: Readonly<Record<string, string>>): void;
  /** Partitions read that wait for their ingest to go on (partition -> since, ISO time). */
  observeStalled?(topic: string, stalled: Readonly<Record<string, string>>): void;
  /** From a consistency token: partitions read must have applied at least these offsets. */
  readonly required?: Offsets | undefined;
  /** Epoch ms after which reads of this request fail with GW_QUERY_TIMEOUT. */
  readonly deadline?: number | undefined;
  /**
   * Whose read this is: the verified claims of the caller's token, undefined with client
   * authentication off. Every read is restricted to the rows the views' row rules let these
   * claims see. Required, so that no read path can leave it out by accident.
   */
  readonly claims: Claims;
  /**
   * The row scopes resolved for this request, by view id; a request keeps them so that a `via`
   * rule reads its related view's keys once. Without it they are resolved per read.
   */
  readonly scopes?: Map<string, Promise<RowScope>>;
}

export interface ViewReader {
  readonly views: readonly ViewModel[];
  view(id: string): ViewModel;
  /** Rows by key, in the order asked; undefined where there is none. */
  lookup(viewId: string, keys: readonly string[], context: ReadContext): Promise<Array<Row | undefined>>;
  /** Pages of one view; a batch costs one read per owner. */
  pages(viewId: string, requests: readonly PageRequest[], context: ReadContext): Promise<Page[]>;
  count(viewId: string, filter: Filter, context: ReadContext): Promise<number>;
  /** Per value, rows whose `field` equals it, in the view's first sort order, at most `limit`. */
  related(viewId: string, field: string, values: readonly string[], limit: number, context: ReadContext): Promise<Map<string, Row[]>>;
  /**
   * The caller's row scope of a view (undefined: every row), as every read above applies it;
   * subscriptions AND it into their filters.
   */
  scope(viewId: string, context: ReadContext): Promise<RowScope>;
}

export interface RoutedReaderOptions {
  readonly views: readonly ViewModel[];
  readonly local: LocalReads;
  /** Partition count per view id. */
  readonly partitionCounts: ReadonlyMap<string, number>;
  /** The producers' partitioner: which partition holds a key. */
  readonly partitioner: Partitioner;
  readonly ownership: Ownership;
  readonly peers: PeerClient;
  readonly waiter: OffsetWaiter;
  /** Bound on waiting for a consistency token's offsets. */
  readonly consistencyWaitMs: number;
  /** Bound on waiting for a moving partition to become servable. */
  readonly rebalanceWaitMs: number;
  /** Whether this instance's copy of a partition is within the allowed lag. */
  readonly caughtUp: (topic: string, partition: number) => boolean;
  /** Since when this instance's ingest of a partition waits (ISO time), if it does. */
  readonly stalledSince?: (topic: string, partition: number) => string | undefined;
  readonly selfUrl: () => string;
  /** Most related keys a `via` row rule may turn into an `in` condition (default 1000). */
  readonly maxViaKeys?: number;
}

/** Peer failures after which another copy of the partitions may answer. */
const MOVING: ReadonlySet<string> = new Set([
  'GW_PARTITION_RESTORING',
  'GW_PEER_UNREACHABLE',
  'GW_PEER_TIMEOUT',
  'GW_PEER_NOT_OWNER',
  'GW_PEER_BUSY',
]);

/** Fails a request whose deadline has passed, before it reads more. */
function checkDeadline(context: ReadContext): void {
  if (context.deadline !== undefined && Date.now() > context.deadline) {
    throw new GatewayError('GW_QUERY_TIMEOUT', 'the operation ran past its time limit (QUERY_TIMEOUT_MS) and was cancelled');
  }
}

function badResponse(url: string, message: string): GatewayError {
  return new GatewayError('GW_PEER_BAD_RESPONSE', `peer ${url}: ${message}`, { details: { peer: url } });
}

export function createRoutedReader(options: RoutedReaderOptions): ViewReader {
  const { local, ownership, peers } = options;
  const byId = new Map(options.views.map((view) => [view.id, view]));
  const viewOf = (id: string): ViewModel => {
    const view = byId.get(id);
    if (!view) throw new GatewayError('GW_INTERNAL_ERROR', `unknown view ${id}`);
    return view;
  };
  const countOf = (view: ViewModel) => options.partitionCounts.get(view.id) ?? 1;
  const allPartitions = (view: ViewModel) => Array.from({ length: countOf(view) }, (_, partition) => partition);

  /**
   * Runs `readLocal` on local partitions and `call` per peer, in parallel, and returns one
   * partial result per part. While partitions move (rebalance, a dead owner):
   * - a peer's GW_PEER_NOT_OWNER refreshes the map and re-routes its partitions once;
   * - a partition that is restoring here, or whose owner is restoring, unreachable or slow, is
   *   read from a copy within the allowed lag: this instance's own (it may be the previous
   *   owner), else the previous owner's; with neither, the call waits up to the rebalance bound
   *   for this instance to catch up, then fails naming the partitions.
   */
  async function scatter<T>(
    view: ViewModel,
    partitions: readonly number[],
    context: ReadContext,
    readLocal: (partitions: number[]) => T,
    call: (partitions: number[]) => Omit<PeerCall, 'view' | 'partitions'>,
    check: (result: unknown, url: string, partitions: number[]) => T,
  ): Promise<T[]> {
    checkDeadline(context);
    const readHere = async (mine: number[]): Promise<T[]> => {
      checkDeadline(context);
      await options.waiter.wait(view.id, requiredFor(context.required, view.topic, mine), options.consistencyWaitMs);
      context.observe(view.topic, local.offsets(view.id, mine));
      if (options.stalledSince && context.observeStalled) {
        const stalled: Record<string, string> = {};
        for (const partition of mine) {
          const since = options.stalledSince(view.topic, partition);
          if (since !== undefined) stalled[partition] = since;
        }
        if (Object.keys(stalled).length > 0) context.observeStalled(view.topic, stalled);
      }
      return [readLocal(mine)];
    };
    const ask = async (url: string, theirs: number[], fallback: boolean): Promise<T[]> => {
      const minOffsets = requiredFor(context.required, view.topic, theirs);
      const request = call(theirs);
      const args = { ...request.args, ...(minOffsets ? { minOffsets } : {}), ...(fallback ? { fallback: true } : {}) };
      const answer = await peers.call(url, { view: view.id, partitions: theirs, ...request, args }, minOffsets ? options.consistencyWaitMs : 0);
      context.observe(view.topic, answer.offsets);
      if (answer.stalled) context.observeStalled?.(view.topic, answer.stalled);
      return [check(answer.result, url, theirs)];
    };
    /** Waits (bounded) until the partitions are served here or by a settled owner, then reads. */
    const waitFor = async (waiting: number[]): Promise<T[]> => {
      const deadline = Date.now() + options.rebalanceWaitMs;
      let lastRefresh = 0;
      while (Date.now() < deadline) {
        if (waiting.every((partition) => options.caughtUp(view.topic, partition))) return readHere(waiting);
        await new Promise((resolve) => setTimeout(resolve, 50));
        if (Date.now() - lastRefresh >= 250) {
          lastRefresh = Date.now();
          await ownership.refresh();
        }
        const route = ownership.route(view, waiting);
        const settled = route.unknown.length === 0 && route.restoring.length === 0 && !route.remote.has(failedUrl ?? '');
        if (settled) return run(waiting, false);
      }
      throw new GatewayError('GW_PARTITION_UNAVAILABLE', `${view.topic} partition(s) ${waiting.join(', ')} cannot be served right now`, {
        cause: failedCause,
        details: { topic: view.topic, partitions: waiting, ...(failedCause ? { reason: failedCause.code } : {}) },
      });
    };
    let failedUrl: string | undefined;
    let failedCause: GatewayError | undefined;
    const moving = async (stuck: number[], failed: string | undefined, cause: GatewayError | undefined): Promise<T[]> => {
      if (failed) failedUrl = failed;
      if (cause) failedCause = cause;
      const parts: Array<Promise<T[]>> = [];
      const close = stuck.filter((partition) => options.caughtUp(view.topic, partition));
      if (close.length > 0) parts.push(readHere(close));
      const waiting: number[] = [];
      // Each partition tries its previous owners' kept copies, most recent first; a copy
      // that is gone or too far behind passes the partition on to the next, then to waiting.
      const fromPrevious = async (partition: number): Promise<T[]> => {
        const candidates = ownership.copyHolders(view.topic, partition).filter((url) => url !== failed && url !== options.selfUrl());
        for (const url of candidates) {
          try {
            return await ask(url, [partition], true);
          } catch (error) {
            if (!isGatewayError(error) || !MOVING.has(error.code)) throw error;
          }
        }
        return waitFor([partition]);
      };
      for (const partition of stuck.filter((p) => !close.includes(p))) {
        if (ownership.copyHolders(view.topic, partition).some((url) => url !== failed && url !== options.selfUrl())) {
          parts.push(fromPrevious(partition));
        } else {
          waiting.push(partition);
        }
      }
      if (waiting.length > 0) parts.push(waitFor(waiting));
      return (await Promise.all(parts)).flat();
    };
    const run = async (targets: readonly number[], retry: boolean): Promise<T[]> => {
      const route = ownership.route(view, targets);
      const results: Array<Promise<T[]>> = [];
      if (route.local.length > 0) results.push(readHere(route.local));
      if (route.restoring.length > 0) results.push(moving(route.restoring, undefined, undefined));
      if (route.unknown.length > 0) results.push(moving(route.unknown, undefined, undefined));
      for (const [url, remote] of route.remote) {
        results.push(
          ask(url, remote, false).catch(async (error: unknown) => {
            if (!isGatewayError(error)) throw error;
            if (error.code === 'GW_PEER_NOT_OWNER' && retry) {
              await ownership.refresh();
              return run(remote, false);
            }
            if (MOVING.has(error.code)) return moving(remote, url, error);
            throw error;
          }),
        );
      }
      return (await Promise.all(results)).flat();
    };
    return run(partitions, true);
  }

  const checkRows = (
    view: ViewModel,
    url: string,
    partitions: readonly number[],
    rows: ReadonlyArray<{ key: unknown; row: unknown }>,
    scope: RowScope,
  ) => {
    const allowed = new Set(partitions);
    for (const entry of rows) {
      if (typeof entry.key !== 'string' || !entry.row || typeof entry.row !== 'object') throw badResponse(url, 'malformed row');
      if ((entry.row as Row)[view.keyField] !== entry.key) throw badResponse(url, `row ${entry.key} has another key`);
      if (!allowed.has(options.partitioner(entry.key, countOf(view)))) throw badResponse(url, `row ${entry.key} is not in the partitions asked`);
      if (scope && !matchesFilter(entry.row as Row, scope)) throw badResponse(url, `row ${entry.key} is outside the filter it was sent`);
    }
  };

  /** The caller's scope of a view, resolved once per request (context.scopes) and view. */
  const scopeOf = (view: ViewModel, context: ReadContext): Promise<RowScope> => {
    if (!view.authorization.hasRowRule) return Promise.resolve(undefined);
    const cached = context.scopes?.get(view.id);
    if (cached) return cached;
    const resolving = resolveScope(
      view,
      context.claims,
      {
        scopeOf: (target) => scopeOf(target, context),
        visibleKeys: async (target, limit) => {
          const request: PageRequest = { sortField: target.keyField, descending: false, filter: NO_FILTER, limit, backward: false };
          const [page] = await reader.pages(target.id, [request], context);
          return page!.rows.map((row) => row.key);
        },
      },
      options.maxViaKeys ?? MAX_VIA_KEYS,
    );
    context.scopes?.set(view.id, resolving);
    // A failed resolution is not kept: the next read tries again.
    resolving.catch(() => {
      if (context.scopes?.get(view.id) === resolving) context.scopes.delete(view.id);
    });
    return resolving;
  };

  const reader: ViewReader = {
    views: options.views,
    view: viewOf,

    scope: (viewId, context) => scopeOf(viewOf(viewId), context),

    async lookup(viewId, keys, context) {
      const view = viewOf(viewId);
      const scope = await scopeOf(view, context);
      const refs = keys.map((key) => ({ key, partition: options.partitioner(key, countOf(view)) }));
      const found = new Map<string, Row | undefined>();
      const partitions = [...new Set(refs.map((ref) => ref.partition))];
      await scatter(
        view,
        partitions,
        context,
        (mine) => {
          const wanted = refs.filter((ref) => mine.includes(ref.partition));
          local.lookup(viewId, wanted, scope).forEach((row, i) => {
            found.set(wanted[i]!.key, row);
          });
        },
        (theirs) => ({ op: 'lookup', args: { keys: refs.filter((ref) => theirs.includes(ref.partition)), ...(scope ? { filter: scope } : {}) } }),
        (result, url, theirs) => {
          const wanted = refs.filter((ref) => theirs.includes(ref.partition));
          if (!Array.isArray(result) || result.length !== wanted.length) throw badResponse(url, 'lookup answer has the wrong length');
          result.forEach((row: unknown, i) => {
            if (row === null) {
              found.set(wanted[i]!.key, undefined);
              return;
            }
            checkRows(view, url, theirs, [{ key: wanted[i]!.key, row }], scope);
            found.set(wanted[i]!.key, row as Row);
          });
        },
      );
      return keys.map((key) => found.get(key));
    },

    async pages(viewId, asked, context) {
      const view = viewOf(viewId);
      const scope = await scopeOf(view, context);
      const requests = scope ? asked.map((request) => ({ ...request, filter: restrict(request.filter, scope) })) : asked;
      const partials = await scatter<PartialPage[]>(
        view,
        allPartitions(view),
        context,
        (mine) => local.pages(viewId, mine, requests),
        () => ({ op: 'pages', args: { requests } }),
        (result, url, theirs) => {
          if (!Array.isArray(result) || result.length !== requests.length) throw badResponse(url, 'pages answer has the wrong length');
          return result.map((partial: PartialPage, i) => {
            const request = requests[i]!;
            if (!partial || !Array.isArray(partial.rows) || partial.rows.length > request.limit) throw badResponse(url, 'malformed page');
            checkRows(view, url, theirs, partial.rows, scope);
            for (let j = 1; j < partial.rows.length; j++) {
              const order = compareEntries(partial.rows[j - 1]!, partial.rows[j]!);
              if (request.descending ? order < 0 : order > 0) throw badResponse(url, 'page rows are out of order');
            }
            return { rows: partial.rows, more: partial.more === true, beyond: partial.beyond === true };
          });
        },
      );
      return requests.map((request, i) => {
        const parts = partials.map((partial) => partial[i]!);
        const merged = parts.flatMap((part) => part.rows).sort(compareEntries);
        if (request.descending) merged.reverse();
        const rows = request.backward ? merged.slice(Math.max(0, merged.length - request.limit)) : merged.slice(0, request.limit);
        const more = merged.length > request.limit || parts.some((part) => part.more);
        const beyond = parts.some((part) => part.beyond);
        return { rows, hasNextPage: request.backward ? beyond : more, hasPreviousPage: request.backward ? more : beyond };
      });
    },

    async count(viewId, asked, context) {
      const view = viewOf(viewId);
      const filter = restrict(asked, await scopeOf(view, context));
      const counts = await scatter(
        view,
        allPartitions(view),
        context,
        (mine) => local.count(viewId, mine, filter),
        () => ({ op: 'count', args: { filter } }),
        (result, url) => {
          if (!Number.isSafeInteger(result) || (result as number) < 0) throw badResponse(url, 'count is not a non-negative integer');
          return result as number;
        },
      );
      return counts.reduce((sum, count) => sum + count, 0);
    },

    async related(viewId, field, values, limit, context) {
      const view = viewOf(viewId);
      const scope = await scopeOf(view, context);
      const parts = await scatter<Map<string, RelatedRow[]>>(
        view,
        allPartitions(view),
        context,
        (mine) => local.related(viewId, mine, field, values, limit, scope),
        () => ({ op: 'related', args: { field, values, limit, ...(scope ? { filter: scope } : {}) } }),
        (result, url, theirs) => {
          if (!result || typeof result !== 'object') throw badResponse(url, 'malformed related answer');
          const answer = new Map(Object.entries(result as Record<string, RelatedRow[]>));
          for (const rows of answer.values()) {
            if (!Array.isArray(rows) || rows.length > limit) throw badResponse(url, 'malformed related rows');
            checkRows(view, url, theirs, rows, scope);
            if (rows.some((row) => row.row[field] === undefined)) throw badResponse(url, `related rows lack ${field}`);
          }
          return answer;
        },
      );
      const out = new Map<string, Row[]>();
      for (const value of values) {
        // One part's lists are in order and cut to the limit already.
        const merged =
          parts.length === 1
            ? (parts[0]!.get(value) ?? [])
            : parts
                .flatMap((part) => part.get(value) ?? [])
                .sort(compareEntries)
                .slice(0, limit);
        out.set(
          value,
          merged.map((entry) => entry.row),
        );
      }
      return out;
    },
  };
  return reader;
}

/**
 * Serves the peer protocol (PROTOCOL.md) on the instance's HTTP port: authenticates, checks that
 * this instance serves every requested partition (by its own assignment, whatever the caller
 * believes), runs the read on the local store, and answers with the partitions' offsets.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError, isGatewayError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Filter, PageRequest } from '../query/page.ts';
import type { ViewModel } from '../views/model.ts';
import type { LocalReads } from '../query/local-reads.ts';
import type { RecentChanges } from '../store/recent-changes.ts';
import type { OffsetWaiter } from '../store/offset-waiter.ts';
import { MAX_PEER_BODY_BYTES, SIGNATURE_HEADER, TIME_HEADER, parsePeerRequest, verify, type PeerRequest } from './protocol.ts';

export interface PeerServerOptions {
  readonly secret: string;
  readonly local: LocalReads;
  readonly views: ReadonlyMap<string, ViewModel>;
  /**
   * Whether this instance serves a partition now: `yes`; `restoring` (assigned, still catching
   * up); `no`. A `fallback` request (the caller's owner is restoring or gone) is also served
   * from a copy within the allowed lag that this instance keeps after losing the partition.
   */
  readonly serves: (view: ViewModel, partition: number, fallback: boolean) => 'yes' | 'restoring' | 'no';
  /** Since when this instance's ingest of a partition waits (ISO time), if it does. */
  readonly stalledSince?: (topic: string, partition: number) => string | undefined;
  readonly logger: Logger;
  readonly waiter: OffsetWaiter;
  readonly consistencyWaitMs: number;
  /** Recent applied changes, for subscribers on other instances (op `changes`). */
  readonly recent: RecentChanges;
}

/** Longest a `changes` long-poll may wait for a change. */
const MAX_CHANGES_WAIT_MS = 5_000;

/** Op `changes`: per partition, changes from `since`; waits up to `waitMs` while there are none. */
async function changes(recent: RecentChanges, request: PeerRequest): Promise<unknown> {
  const since = request.args.since as Record<string, string> | undefined;
  const limit = Math.min(Number(request.args.limit ?? 1000), 10_000);
  const waitMs = Math.min(Math.max(Number(request.args.waitMs ?? 0), 0), MAX_CHANGES_WAIT_MS);
  if (!since || typeof since !== 'object' || !Number.isFinite(limit) || limit < 1) {
    throw new GatewayError('GW_PEER_BAD_REQUEST', 'changes needs args.since and a positive args.limit');
  }
  const read = () => {
    const out: Record<string, unknown> = {};
    let any = false;
    for (const partition of request.partitions) {
      const from = since[String(partition)];
      if (typeof from !== 'string' || !/^\d{1,19}$/.test(from)) throw new GatewayError('GW_PEER_BAD_REQUEST', `since has no offset for partition ${partition}`);
      const result = recent.since(request.view, partition, from, limit);
      if (result.changes.length > 0) any = true;
      out[String(partition)] = result;
    }
    return { out, any };
  };
  const first = read();
  if (first.any || waitMs === 0) return first.out;
  await Promise.race(request.partitions.map((partition) => recent.waitForChange(request.view, partition, waitMs)));
  return read().out;
}

function reply(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function fail(response: ServerResponse, error: GatewayError, partitions?: readonly number[]): void {
  reply(response, error.status, { ok: false, code: error.code, message: error.message, ...(partitions ? { partitions } : {}) });
}

async function readBody(request: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_PEER_BODY_BYTES) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function execute(local: LocalReads, request: PeerRequest): unknown {
  const args = request.args;
  switch (request.op) {
    case 'lookup': {
      const keys = args.keys as Array<{ partition: number; key: string }>;
      if (!Array.isArray(keys)) throw new GatewayError('GW_PEER_BAD_REQUEST', 'lookup needs args.keys');
      if (keys.some((ref) => !request.partitions.includes(ref.partition))) {
        throw new GatewayError('GW_PEER_BAD_REQUEST', 'lookup keys must be in the requested partitions');
      }
      return local.lookup(request.view, keys).map((row) => row ?? null);
    }
    case 'pages': {
      const requests = args.requests as PageRequest[];
      if (!Array.isArray(requests)) throw new GatewayError('GW_PEER_BAD_REQUEST', 'pages needs args.requests');
      return local.pages(request.view, request.partitions, requests);
    }
    case 'count':
      return local.count(request.view, request.partitions, args.filter as Filter);
    case 'changes':
      throw new GatewayError('GW_INTERNAL_ERROR', 'changes is served asynchronously');
    case 'related': {
      const values = args.values as string[];
      if (!Array.isArray(values) || typeof args.field !== 'string' || typeof args.limit !== 'number') {
        throw new GatewayError('GW_PEER_BAD_REQUEST', 'related needs args.field, args.values and args.limit');
      }
      return local.related(request.view, request.partitions, args.field, values, args.limit);
    }
  }
}

/** Handles one POST to the peer path; always answers. */
export async function handlePeerRequest(options: PeerServerOptions, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const body = await readBody(request);
  const header = (name: string) => {
    const value = request.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  if (body === undefined || !verify(options.secret, header(TIME_HEADER), header(SIGNATURE_HEADER), body)) {
    fail(response, new GatewayError('GW_PEER_UNAUTHORIZED', 'peer request is not signed with this deployment\'s secret, or its clock is off'));
    return;
  }
  const parsed = parsePeerRequest(body);
  if (typeof parsed === 'string') {
    fail(response, new GatewayError('GW_PEER_BAD_REQUEST', parsed));
    return;
  }
  const view = options.views.get(parsed.view);
  if (!view) {
    fail(response, new GatewayError('GW_PEER_BAD_REQUEST', `unknown view ${parsed.view}`));
    return;
  }
  const fallback = parsed.args.fallback === true;
  const states = parsed.partitions.map((partition) => options.serves(view, partition, fallback));
  const notServed = parsed.partitions.filter((_, i) => states[i] === 'no');
  if (notServed.length > 0) {
    fail(response, new GatewayError('GW_PEER_NOT_OWNER', `${view.topic} partition(s) ${notServed.join(', ')} are not served here`), notServed);
    return;
  }
  const restoring = parsed.partitions.filter((_, i) => states[i] === 'restoring');
  if (restoring.length > 0) {
    fail(response, new GatewayError('GW_PARTITION_RESTORING', `${view.topic} partition(s) ${restoring.join(', ')} are still restoring here`), restoring);
    return;
  }
  try {
    const minOffsets = parsed.args.minOffsets as Record<string, string> | undefined;
    if (minOffsets !== undefined) await options.waiter.wait(parsed.view, minOffsets, options.consistencyWaitMs);
    const result = parsed.op === 'changes' ? await changes(options.recent, parsed) : execute(options.local, parsed);
    const stalled: Record<string, string> = {};
    for (const partition of parsed.partitions) {
      const since = options.stalledSince?.(view.topic, partition);
      if (since !== undefined) stalled[partition] = since;
    }
    const offsets = options.local.offsets(parsed.view, parsed.partitions);
    reply(response, 200, { ok: true, result, offsets, ...(Object.keys(stalled).length > 0 ? { stalled } : {}) });
  } catch (error) {
    if (isGatewayError(error)) {
      fail(response, error);
      return;
    }
    options.logger.error('peer request failed', { error, op: parsed.op, view: parsed.view });
    fail(response, new GatewayError('GW_INTERNAL_ERROR', 'peer request failed'));
  }
}

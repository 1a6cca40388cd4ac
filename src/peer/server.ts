/**
 * Serves the peer protocol (PROTOCOL.md) on the instance's HTTP port. In order, each step before
 * the next, so that a request failing one costs no more than that step:
 *
 * 1. the signature headers: present, well-formed, time within the clock skew (401), and a declared
 *    body length within the limit (413), all before the body is read;
 * 2. the body, read up to the limit (a longer chunked body is cut there: 413);
 * 3. the signature over time, nonce and body (401), then the nonce, claimed once (a replay: 401
 *    GW_PEER_REPLAYED; no room to remember it: 503 GW_PEER_BUSY, retriable);
 * 4. the envelope, the view and the op's arguments (400 GW_PEER_BAD_REQUEST, src/peer/args.ts);
 * 5. that this instance serves every requested partition, by its own assignment, whatever the
 *    caller believes (409, or 503 while restoring);
 * 6. the read on the local store, answered with the partitions' offsets.
 *
 * A refusal before the body is read closes the connection, so an unread body is never consumed.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError, isGatewayError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { inSpan, SpanKind, tracingEnabled, withIncomingContext } from '../tracing.ts';
import type { ViewModel } from '../views/model.ts';
import type { LocalReads } from '../query/local-reads.ts';
import type { RecentChanges } from '../store/recent-changes.ts';
import type { OffsetWaiter } from '../store/offset-waiter.ts';
import { parsePeerArgs, type PeerArgs } from './args.ts';
import {
  MAX_CLOCK_SKEW_MS,
  MAX_PEER_BODY_BYTES,
  NONCE_HEADER,
  SIGNATURE_HEADER,
  TIME_HEADER,
  checkSignatureHeaders,
  parsePeerRequest,
  verifySignature,
  type PeerRequest,
} from './protocol.ts';
import { createNonceLedger, DEFAULT_NONCE_CAPACITY } from './replay.ts';

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
  /** Largest request body read, in bytes (default MAX_PEER_BODY_BYTES, 1 MiB). */
  readonly maxBodyBytes?: number;
  /** Most request nonces remembered at once for replay protection (default 100,000). */
  readonly maxNonces?: number;
}

/** Handles one POST to the peer path; always answers. */
export type PeerHandler = (request: IncomingMessage, response: ServerResponse) => Promise<void>;

/** Longest a `changes` long-poll may wait for a change. */
const MAX_CHANGES_WAIT_MS = 5_000;

/** Op `changes`: per partition, changes from `since`; waits up to `waitMs` (at most 5 s) while there are none. */
async function changes(recent: RecentChanges, request: PeerRequest, args: Extract<PeerArgs, { op: 'changes' }>): Promise<unknown> {
  const waitMs = Math.min(args.waitMs, MAX_CHANGES_WAIT_MS);
  const read = () => {
    const out: Record<string, unknown> = {};
    let any = false;
    for (const partition of request.partitions) {
      const result = recent.since(request.view, partition, args.since[String(partition)]!, args.limit);
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

/** Refuses before or while reading the body: the connection closes, so the rest is never read. */
function refuseUnread(response: ServerResponse, error: GatewayError): void {
  response
    .writeHead(error.status, { 'content-type': 'application/json', connection: 'close' })
    .end(JSON.stringify({ ok: false, code: error.code, message: error.message }));
}

/**
 * The body; `too large` once it grows past `limit` bytes (reading stops there); `gone` when the
 * caller closed the connection before the end.
 */
function readBody(request: IncomingMessage, limit: number): Promise<Buffer | 'too large' | 'gone'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (): void => {
      request.off('data', onData).off('end', onEnd).off('error', onGone).off('close', onGone);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        stop();
        request.pause();
        chunks.length = 0;
        resolve('too large');
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      stop();
      resolve(Buffer.concat(chunks, size));
    };
    const onGone = (): void => {
      stop();
      resolve('gone');
    };
    request.on('data', onData).once('end', onEnd).once('error', onGone).once('close', onGone);
  });
}

function execute(local: LocalReads, request: PeerRequest, args: PeerArgs): unknown {
  switch (args.op) {
    case 'lookup':
      return local.lookup(request.view, args.keys, args.filter).map((row) => row ?? null);
    case 'pages':
      return local.pages(request.view, request.partitions, args.requests);
    case 'count':
      return local.count(request.view, request.partitions, args.filter);
    case 'related':
      return Object.fromEntries(local.related(request.view, request.partitions, args.field, args.values, args.limit, args.filter));
    case 'changes':
      throw new GatewayError('GW_INTERNAL_ERROR', 'changes is served asynchronously');
  }
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The peer path's handler, with its replay memory (one per instance). */
export function createPeerHandler(options: PeerServerOptions): PeerHandler {
  const maxBodyBytes = options.maxBodyBytes ?? MAX_PEER_BODY_BYTES;
  const nonces = createNonceLedger(options.maxNonces ?? DEFAULT_NONCE_CAPACITY);
  const unauthorized = (why: string) => new GatewayError('GW_PEER_UNAUTHORIZED', `peer request refused: ${why}`);
  const tooLarge = () => new GatewayError('GW_PEER_TOO_LARGE', `peer request body exceeds ${maxBodyBytes} bytes`);

  const handle: PeerHandler = async (request, response) => {
    const signed = checkSignatureHeaders(header(request, TIME_HEADER), header(request, NONCE_HEADER), header(request, SIGNATURE_HEADER));
    if (typeof signed === 'string') {
      refuseUnread(response, unauthorized(signed));
      return;
    }
    const declared = header(request, 'content-length');
    if (declared !== undefined && Number(declared) > maxBodyBytes) {
      refuseUnread(response, tooLarge());
      return;
    }
    const body = await readBody(request, maxBodyBytes);
    if (body === 'gone') return;
    if (body === 'too large') {
      refuseUnread(response, tooLarge());
      return;
    }
    if (!verifySignature(options.secret, signed, body)) {
      fail(response, unauthorized("the signature does not match this deployment's secret"));
      return;
    }
    const claim = nonces.claim(signed.nonce, Number(signed.time) + MAX_CLOCK_SKEW_MS);
    if (claim === 'replayed') {
      fail(response, new GatewayError('GW_PEER_REPLAYED', `peer request refused: nonce ${signed.nonce} was already accepted`));
      return;
    }
    if (claim === 'full') {
      options.logger.warn('peer request refused: the replay memory is full', { nonces: nonces.size });
      fail(response, new GatewayError('GW_PEER_BUSY', 'peer request refused: too many requests within the clock-skew window; retry'));
      return;
    }
    const parsed = parsePeerRequest(body.toString('utf8'));
    if (typeof parsed === 'string') {
      fail(response, new GatewayError('GW_PEER_BAD_REQUEST', parsed));
      return;
    }
    const view = options.views.get(parsed.view);
    if (!view) {
      fail(response, new GatewayError('GW_PEER_BAD_REQUEST', `unknown view ${parsed.view}`));
      return;
    }
    let args: PeerArgs;
    try {
      args = parsePeerArgs(view, parsed);
    } catch (error) {
      if (!isGatewayError(error)) throw error;
      fail(response, error);
      return;
    }
    const states = parsed.partitions.map((partition) => options.serves(view, partition, args.fallback));
    const notServed = parsed.partitions.filter((_, i) => states[i] === 'no');
    if (notServed.length > 0) {
      fail(response, new GatewayError('GW_PEER_NOT_OWNER', `${view.topic} partition(s) ${notServed.join(', ')} are not served here`), notServed);
      return;
    }
    const restoring = parsed.partitions.filter((_, i) => states[i] === 'restoring');
    if (restoring.length > 0) {
      fail(
        response,
        new GatewayError('GW_PARTITION_RESTORING', `${view.topic} partition(s) ${restoring.join(', ')} are still restoring here`),
        restoring,
      );
      return;
    }
    try {
      if (args.minOffsets !== undefined) await options.waiter.wait(parsed.view, args.minOffsets, options.consistencyWaitMs);
      const result = args.op === 'changes' ? await changes(options.recent, parsed, args) : execute(options.local, parsed, args);
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
  };
  // With tracing on: a server span in the caller's trace (its `traceparent` header).
  return (request, response) =>
    tracingEnabled()
      ? withIncomingContext(request.headers, () =>
          inSpan('peer serve', { kind: SpanKind.SERVER }, async (span) => {
            await handle(request, response);
            span?.setAttribute('http.response.status_code', response.statusCode);
          }),
        )
      : handle(request, response);
}

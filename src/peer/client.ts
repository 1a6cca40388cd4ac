/**
 * Calls other instances over the peer protocol (PROTOCOL.md): signs each request with a fresh
 * nonce (a request is accepted once), bounds it by a timeout, and turns every failure into a
 * registry error carrying the peer and partitions. A peer whose URL is https is checked against
 * the system's CAs, or against `ca` (PEER_TLS_CA_FILE) when given, through its own connection pool.
 * Each call is a `peer <op>` client span when tracing is on, and its W3C trace context travels in
 * the `traceparent` header (not signed: it only links spans), so the owner's spans join the
 * caller's trace.
 */
import { Agent, fetch as fetchWithAgent } from 'undici';
import { GatewayError, ERRORS, isGatewayError, type ErrorCode } from '../errors.ts';
import { inSpan, SpanKind, traceHeaders, tracingEnabled } from '../tracing.ts';
import { PEER_PATH, PEER_VERSION, signedHeaders, type PeerOp } from './protocol.ts';

export interface PeerCall {
  readonly op: PeerOp;
  readonly view: string;
  readonly partitions: readonly number[];
  readonly args: Record<string, unknown>;
}

export interface PeerAnswer {
  readonly result: unknown;
  readonly offsets: Record<string, string>;
  /** Partitions whose ingest waits on the peer (partition -> since, ISO time). */
  readonly stalled?: Record<string, string>;
}

export interface PeerClient {
  /** `extraTimeoutMs` extends the bound when the peer may wait (for a consistency token). */
  call(url: string, call: PeerCall, extraTimeoutMs?: number): Promise<PeerAnswer>;
  /** Calls made so far, per peer URL (for tests and metrics). */
  readonly calls: Map<string, number>;
  /** Closes the connections to https peers (with `ca`). */
  close(): Promise<void>;
}

export interface PeerClientOptions {
  readonly secret: string;
  readonly timeoutMs: number;
  /** PEM CA certificates that https peers' certificates are checked against (PEER_TLS_CA_FILE). */
  readonly ca?: string | undefined;
  /** Called after every call with its duration and, when it failed, the error code (metrics). */
  readonly observe?: (peer: string, op: string, seconds: number, errorCode: string | undefined) => void;
}

export function createPeerClient(options: PeerClientOptions): PeerClient {
  const calls = new Map<string, number>();
  const tlsAgent = options.ca === undefined ? undefined : new Agent({ connect: { ca: options.ca } });
  const post = (url: string, init: RequestInit): Promise<Response> =>
    tlsAgent && url.startsWith('https:')
      ? (fetchWithAgent(url, { ...(init as Parameters<typeof fetchWithAgent>[1]), dispatcher: tlsAgent }) as unknown as Promise<Response>)
      : fetch(url, init);

  const send = async (url: string, call: PeerCall, extraTimeoutMs: number): Promise<PeerAnswer> => {
    const body = JSON.stringify({ v: PEER_VERSION, ...call });
    const details = { peer: url, partitions: call.partitions, op: call.op };
    let response: Response;
    try {
      response = await post(`${url}${PEER_PATH}`, {
        method: 'POST',
        headers: { ...signedHeaders(options.secret, body), ...traceHeaders() },
        body,
        signal: AbortSignal.timeout(options.timeoutMs + extraTimeoutMs),
      });
    } catch (error) {
      const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
      throw timedOut
        ? new GatewayError('GW_PEER_TIMEOUT', `peer ${url} did not answer within ${options.timeoutMs + extraTimeoutMs} ms`, { cause: error, details })
        : new GatewayError('GW_PEER_UNREACHABLE', `peer ${url} could not be reached`, { cause: error, details });
    }
    let payload: unknown;
    try {
      payload = await response.json();
    } catch (error) {
      throw new GatewayError('GW_PEER_BAD_RESPONSE', `peer ${url} answered ${response.status} without a JSON body`, { cause: error, details });
    }
    const answer = payload as {
      ok?: unknown;
      result?: unknown;
      offsets?: unknown;
      stalled?: unknown;
      code?: unknown;
      message?: unknown;
      partitions?: unknown;
    };
    if (response.ok && answer.ok === true && answer.offsets && typeof answer.offsets === 'object') {
      const stalled = answer.stalled && typeof answer.stalled === 'object' ? (answer.stalled as Record<string, string>) : undefined;
      return { result: answer.result, offsets: answer.offsets as Record<string, string>, ...(stalled ? { stalled } : {}) };
    }
    const code = typeof answer.code === 'string' && answer.code in ERRORS ? (answer.code as ErrorCode) : 'GW_PEER_BAD_RESPONSE';
    const message = typeof answer.message === 'string' ? answer.message : `status ${response.status}`;
    throw new GatewayError(code, `peer ${url}: ${message}`, {
      details: { ...details, ...(Array.isArray(answer.partitions) ? { partitions: answer.partitions } : {}) },
    });
  };

  /** The call in a client span, when tracing is on and the call belongs to a traced request. */
  const traced = (url: string, call: PeerCall, extraTimeoutMs: number): Promise<PeerAnswer> => {
    if (!tracingEnabled()) return send(url, call, extraTimeoutMs);
    const attributes = { 'server.address': url, 'gw.peer.op': call.op, 'gw.view': call.view, 'gw.partitions': [...call.partitions] };
    return inSpan(`peer ${call.op}`, { kind: SpanKind.CLIENT, attributes, onlyInTrace: true }, () => send(url, call, extraTimeoutMs));
  };

  return {
    calls,
    close: async () => tlsAgent?.close(),
    async call(url, call, extraTimeoutMs = 0) {
      calls.set(url, (calls.get(url) ?? 0) + 1);
      const started = performance.now();
      try {
        const answer = await traced(url, call, extraTimeoutMs);
        options.observe?.(url, call.op, (performance.now() - started) / 1000, undefined);
        return answer;
      } catch (error) {
        options.observe?.(url, call.op, (performance.now() - started) / 1000, isGatewayError(error) ? error.code : 'GW_INTERNAL_ERROR');
        throw error;
      }
    },
  };
}

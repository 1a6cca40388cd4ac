/**
 * The peer protocol's envelope (see PROTOCOL.md next to this file):
 *
 *   request  = { v: 1, op, view, partitions: int[], args }
 *   signature header = "v1=" hex( HMAC-SHA256( secret, time "." body ) )
 *   response = { ok: true, result, offsets } | { ok: false, code, message, partitions? }
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const PEER_PATH = '/internal/v1/read';
export const PEER_VERSION = 1;
export const TIME_HEADER = 'x-gw-peer-time';
export const SIGNATURE_HEADER = 'x-gw-peer-signature';
export const MAX_CLOCK_SKEW_MS = 30_000;
export const MAX_PEER_BODY_BYTES = 8 << 20;

export type PeerOp = 'lookup' | 'pages' | 'count' | 'related' | 'changes';

export interface PeerRequest {
  readonly v: number;
  readonly op: PeerOp;
  readonly view: string;
  readonly partitions: readonly number[];
  readonly args: Record<string, unknown>;
}

export type PeerResponse =
  | { readonly ok: true; readonly result: unknown; readonly offsets: Record<string, string>; readonly stalled?: Record<string, string> }
  | { readonly ok: false; readonly code: string; readonly message: string; readonly partitions?: readonly number[] };

export function sign(secret: string, time: string, body: string): string {
  return `v1=${createHmac('sha256', secret).update(time).update('.').update(body).digest('hex')}`;
}

/** Whether the signature and time are acceptable for this body; constant-time comparison. */
export function verify(secret: string, time: string | undefined, signature: string | undefined, body: string, now = Date.now()): boolean {
  if (!time || !signature || !/^\d{1,16}$/.test(time)) return false;
  if (Math.abs(now - Number(time)) > MAX_CLOCK_SKEW_MS) return false;
  const expected = Buffer.from(sign(secret, time, body));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

const OPS: ReadonlySet<string> = new Set(['lookup', 'pages', 'count', 'related', 'changes']);

/** Parses and checks a request body; returns a reason string when it is malformed. */
export function parsePeerRequest(body: string): PeerRequest | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return 'body is not JSON';
  }
  if (!parsed || typeof parsed !== 'object') return 'body is not an object';
  const request = parsed as Record<string, unknown>;
  if (request.v !== PEER_VERSION) return `unsupported protocol version ${JSON.stringify(request.v)}, expected ${PEER_VERSION}`;
  if (typeof request.op !== 'string' || !OPS.has(request.op)) return `unknown op ${JSON.stringify(request.op)}`;
  if (typeof request.view !== 'string') return 'view must be a string';
  if (!Array.isArray(request.partitions) || !request.partitions.every((p) => Number.isSafeInteger(p) && p >= 0)) {
    return 'partitions must be non-negative integers';
  }
  if (!request.args || typeof request.args !== 'object') return 'args must be an object';
  return request as unknown as PeerRequest;
}

/**
 * The peer protocol's envelope and signature (see PROTOCOL.md next to this file):
 *
 *   request   = { v: 1, op, view, partitions: int[], args }
 *   time      = 1*16DIGIT                      ; sender's clock, Unix milliseconds
 *   nonce     = 16*64( ALPHA / DIGIT / "-" / "_" )
 *   signature = "v1=" 64HEXDIG                 ; hex( HMAC-SHA256( secret, time "." nonce "." body ) )
 *   response  = { ok: true, result, offsets } | { ok: false, code, message, partitions? }
 *
 * The headers are checked (presence, shape, time window) before the body is read; the signature
 * once the body is read; the nonce is then claimed once (src/peer/replay.ts).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const PEER_PATH = '/internal/v1/read';
export const PEER_VERSION = 1;
export const TIME_HEADER = 'x-gw-peer-time';
export const NONCE_HEADER = 'x-gw-peer-nonce';
export const SIGNATURE_HEADER = 'x-gw-peer-signature';
export const MAX_CLOCK_SKEW_MS = 30_000;
/** Largest request body a peer reads (keys, cursors and filters, never rows). */
export const MAX_PEER_BODY_BYTES = 1 << 20;

const TIME = /^\d{1,16}$/;
const NONCE = /^[A-Za-z0-9_-]{16,64}$/;
const SIGNATURE = /^v1=[0-9a-f]{64}$/;

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

/** The three signature headers of a request, well-formed and within the clock skew. */
export interface SignatureHeaders {
  readonly time: string;
  readonly nonce: string;
  readonly signature: string;
}

export function sign(secret: string, time: string, nonce: string, body: string | Buffer): string {
  return `v1=${createHmac('sha256', secret).update(time).update('.').update(nonce).update('.').update(body).digest('hex')}`;
}

/** A fresh nonce: 16 random bytes, base64url (22 characters). */
export function newNonce(): string {
  return randomBytes(16).toString('base64url');
}

/** Every header a signed request carries, with a fresh nonce (and `time`, by default now). */
export function signedHeaders(secret: string, body: string, time = String(Date.now()), nonce = newNonce()): Record<string, string> {
  return {
    'content-type': 'application/json',
    [TIME_HEADER]: time,
    [NONCE_HEADER]: nonce,
    [SIGNATURE_HEADER]: sign(secret, time, nonce, body),
  };
}

/**
 * Checks the signature headers before the body is read: present, well-formed, and a time within
 * MAX_CLOCK_SKEW_MS of `now`. Returns them, or the reason they are refused.
 */
export function checkSignatureHeaders(
  time: string | undefined,
  nonce: string | undefined,
  signature: string | undefined,
  now = Date.now(),
): SignatureHeaders | string {
  if (time === undefined || nonce === undefined || signature === undefined) {
    return `a signed request carries ${TIME_HEADER}, ${NONCE_HEADER} and ${SIGNATURE_HEADER}`;
  }
  if (!TIME.test(time)) return `${TIME_HEADER} must be Unix milliseconds`;
  if (!NONCE.test(nonce)) return `${NONCE_HEADER} must be 16 to 64 characters of A-Z a-z 0-9 - _`;
  if (!SIGNATURE.test(signature)) return `${SIGNATURE_HEADER} must be v1= and 64 hex digits`;
  if (Math.abs(now - Number(time)) > MAX_CLOCK_SKEW_MS)
    return `${TIME_HEADER} is more than ${MAX_CLOCK_SKEW_MS / 1000} s away from this instance's clock`;
  return { time, nonce, signature };
}

/** Whether the signature matches the headers and these exact body bytes; constant-time comparison. */
export function verifySignature(secret: string, headers: SignatureHeaders, body: Buffer): boolean {
  const expected = Buffer.from(sign(secret, headers.time, headers.nonce, body));
  const given = Buffer.from(headers.signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

const OPS: ReadonlySet<string> = new Set(['lookup', 'pages', 'count', 'related', 'changes']);
const ENVELOPE_FIELDS: ReadonlySet<string> = new Set(['v', 'op', 'view', 'partitions', 'args']);
/** More partitions than any topic the gateway creates (TOPIC_PARTITIONS is at most 10,000). */
const MAX_PARTITIONS = 10_000;

/** Parses and checks a request envelope; returns a reason string when it is malformed. */
export function parsePeerRequest(body: string): PeerRequest | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return 'body is not JSON';
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return 'body is not an object';
  const request = parsed as Record<string, unknown>;
  const unknown = Object.keys(request).find((field) => !ENVELOPE_FIELDS.has(field));
  if (unknown !== undefined) return `unknown field ${JSON.stringify(unknown)} in the envelope`;
  if (request.v !== PEER_VERSION) return `unsupported protocol version ${JSON.stringify(request.v)}, expected ${PEER_VERSION}`;
  if (typeof request.op !== 'string' || !OPS.has(request.op)) return `unknown op ${JSON.stringify(request.op)}`;
  if (typeof request.view !== 'string') return 'view must be a string';
  const partitions = request.partitions;
  if (
    !Array.isArray(partitions) ||
    partitions.length > MAX_PARTITIONS ||
    !partitions.every((p) => Number.isSafeInteger(p) && p >= 0 && p < MAX_PARTITIONS)
  ) {
    return `partitions must be at most ${MAX_PARTITIONS} integers from 0 to ${MAX_PARTITIONS - 1}`;
  }
  if (new Set(partitions).size !== partitions.length) return 'partitions must not repeat';
  if (!request.args || typeof request.args !== 'object' || Array.isArray(request.args)) return 'args must be an object';
  return request as unknown as PeerRequest;
}

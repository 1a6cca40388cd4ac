import { describe, expect, it } from 'vitest';
import { createNonceLedger } from '../../src/peer/replay.ts';
import { checkSignatureHeaders, MAX_CLOCK_SKEW_MS, newNonce, sign, signedHeaders, verifySignature } from '../../src/peer/protocol.ts';

const NOW = Date.UTC(2026, 11, 4, 12, 0, 0);

describe('nonce ledger (peer replay protection)', () => {
  it('accepts a nonce once, until it expires', () => {
    const ledger = createNonceLedger(10);
    expect(ledger.claim('nonce-a', NOW + 30_000, NOW)).toBe('fresh');
    expect(ledger.claim('nonce-a', NOW + 30_000, NOW + 1)).toBe('replayed');
    expect(ledger.claim('nonce-a', NOW + 30_000, NOW + 29_999)).toBe('replayed');
    // Kept at least until its expiry, dropped after it.
    expect(ledger.claim('nonce-a', NOW + 30_000, NOW + 30_000)).toBe('replayed');
    expect(ledger.claim('nonce-a', NOW + 90_000, NOW + 31_000)).toBe('fresh');
  });

  it('refuses new nonces when full rather than forget an unexpired one, and makes room as they expire', () => {
    const ledger = createNonceLedger(3);
    for (const [i, nonce] of ['n1', 'n2', 'n3'].entries()) expect(ledger.claim(nonce, NOW + 10_000 + i * 5_000, NOW)).toBe('fresh');
    expect(ledger.claim('n4', NOW + 30_000, NOW + 1)).toBe('full');
    // Still remembered: a replay of the oldest is a replay, not a fresh request.
    expect(ledger.claim('n1', NOW + 10_000, NOW + 2)).toBe('replayed');
    expect(ledger.size).toBe(3);
    // n1 expires: room for one more.
    expect(ledger.claim('n4', NOW + 40_000, NOW + 11_000)).toBe('fresh');
    expect(ledger.claim('n5', NOW + 40_000, NOW + 11_000)).toBe('full');
    expect(ledger.size).toBe(3);
  });
});

describe('peer signature headers', () => {
  const body = Buffer.from('{"v":1}');
  const secret = 'unit-peer-secret-0123456789';

  it('signs time, nonce and body; any change breaks the signature', () => {
    const headers = signedHeaders(secret, body.toString(), String(NOW), 'nonce-0123456789abcdef');
    const checked = checkSignatureHeaders(headers['x-gw-peer-time'], headers['x-gw-peer-nonce'], headers['x-gw-peer-signature'], NOW);
    if (typeof checked === 'string') throw new Error(checked);
    expect(verifySignature(secret, checked, body)).toBe(true);
    expect(verifySignature(secret, { ...checked, nonce: 'nonce-0123456789abcdeX' }, body)).toBe(false);
    expect(verifySignature(secret, { ...checked, time: String(NOW + 1) }, body)).toBe(false);
    expect(verifySignature(secret, checked, Buffer.from('{"v":2}'))).toBe(false);
    expect(verifySignature('another-secret-0123456789', checked, body)).toBe(false);
  });

  it('refuses missing, malformed and stale headers before any body', () => {
    const nonce = newNonce();
    const signature = sign(secret, String(NOW), nonce, body);
    expect(checkSignatureHeaders(String(NOW), nonce, signature, NOW)).toEqual({ time: String(NOW), nonce, signature });
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{22}$/);
    for (const [time, n, s] of [
      [undefined, nonce, signature],
      [String(NOW), undefined, signature],
      [String(NOW), nonce, undefined],
      ['12.5', nonce, signature],
      [String(NOW), 'short', signature],
      [String(NOW), 'has spaces in it, sixteen+', signature],
      [String(NOW), nonce, signature.toUpperCase()],
      [String(NOW - MAX_CLOCK_SKEW_MS - 1), nonce, signature],
      [String(NOW + MAX_CLOCK_SKEW_MS + 1), nonce, signature],
    ] as const) {
      expect(typeof checkSignatureHeaders(time, n, s, NOW)).toBe('string');
    }
  });
});

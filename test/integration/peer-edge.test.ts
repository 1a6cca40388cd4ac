/**
 * The peer endpoint against hostile callers, over real sockets to a real gateway: replays, bodies
 * over the limit (declared or chunked), unsigned bodies, and correctly signed requests with
 * malformed arguments for every op. A normal signed request of every op still answers.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import { partitionForKey } from '../../src/cluster/partitioner.ts';
import { MAX_PEER_BODY_BYTES, NONCE_HEADER, PEER_PATH, SIGNATURE_HEADER, TIME_HEADER, signedHeaders } from '../../src/peer/protocol.ts';
import { keyed, order, payment } from '../support/data.ts';
import { useFixture } from '../support/fixture.ts';
import type { TestGateway } from '../support/gateway.ts';

const SECRET = 'peer-edge-secret-0123456789';
const PARTITIONS = [0, 1, 2];
const NO_FILTER = { equals: [], ranges: [] };

interface Answer {
  status: number;
  body: { ok: boolean; code?: string; message?: string; result?: unknown };
}

describe('peer endpoint at the edge', () => {
  const fx = useFixture('peer-edge');
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await fx.startGateway({ env: { PEER_SECRET: SECRET } });
    await fx.produce(
      'orders',
      Array.from({ length: 20 }, (_, i) => keyed('orderId', order(i + 1))),
    );
    await fx.produce(
      'payments',
      Array.from({ length: 20 }, (_, i) => keyed('paymentId', payment(i + 1, 1))),
    );
    await fx.waitCaughtUp(gw, ['orders', 'payments']);
  });

  const post = async (body: string, headers: Record<string, string>): Promise<Answer> => {
    const response = await fetch(`${gw.url}${PEER_PATH}`, { method: 'POST', body, headers });
    return { status: response.status, body: (await response.json()) as Answer['body'] };
  };
  const signed = (envelope: Record<string, unknown>) => {
    const body = JSON.stringify({ v: 1, ...envelope });
    return post(body, signedHeaders(SECRET, body));
  };

  /**
   * Sends the headers of a POST to the peer path, then `body` (a Buffer per write) only while no
   * answer has come; resolves with the answer and how many body bytes were handed to the socket
   * before it came. `pauseFirstMs` waits before the first body byte.
   */
  const rawPost = (
    headers: Record<string, string | number>,
    body: { chunk: Buffer; total: number; pauseFirstMs?: number },
  ): Promise<{ status: number; json: Answer['body']; sentBeforeAnswer: number; finished: boolean }> =>
    new Promise((resolve, reject) => {
      const req = httpRequest(`${gw.url}${PEER_PATH}`, { method: 'POST', headers });
      let sent = 0;
      let answered = false;
      let finished = false;
      req.on('response', (res: IncomingMessage) => {
        answered = true;
        const sentBeforeAnswer = sent;
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          clearTimeout(start);
          req.destroy();
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Answer['body'], sentBeforeAnswer, finished });
        });
      });
      // The server closes the connection after refusing: writes still in flight then fail.
      req.on('error', (error) => {
        if (!answered) reject(error);
      });
      const pump = (): void => {
        while (!answered && sent < body.total) {
          sent += body.chunk.length;
          if (!req.write(body.chunk)) {
            req.once('drain', pump);
            return;
          }
        }
        if (!answered && sent >= body.total) {
          finished = true;
          req.end();
        }
      };
      req.flushHeaders();
      const start = setTimeout(pump, body.pauseFirstMs ?? 0);
    });

  it('answers a normal signed request of every op', async () => {
    const key = 'ord-000007';
    const partition = partitionForKey(key, 3);
    const lookup = await signed({ op: 'lookup', view: 'orders', partitions: [partition], args: { keys: [{ partition, key }] } });
    expect(lookup).toMatchObject({ status: 200, body: { ok: true, result: [{ orderId: key }] } });
    const count = await signed({ op: 'count', view: 'orders', partitions: PARTITIONS, args: { filter: NO_FILTER } });
    expect(count).toMatchObject({ status: 200, body: { ok: true, result: 20 } });
    const request = {
      sortField: 'createdAt',
      descending: true,
      filter: { equals: [{ field: 'state', values: ['CREATED', 'SHIPPED'] }], ranges: [] },
      limit: 3,
      backward: false,
    };
    const pages = await signed({ op: 'pages', view: 'orders', partitions: PARTITIONS, args: { requests: [request] } });
    expect(pages.status).toBe(200);
    expect((pages.body.result as Array<{ rows: unknown[] }>)[0]!.rows).toHaveLength(3);
    const related = await signed({
      op: 'related',
      view: 'payments',
      partitions: PARTITIONS,
      args: { field: 'orderId', values: ['ord-000001'], limit: 10 },
    });
    expect(related.status).toBe(200);
    expect(Object.keys(related.body.result as object)).toEqual(['ord-000001']);
    const changes = await signed({ op: 'changes', view: 'orders', partitions: [0], args: { since: { '0': '0' }, limit: 5, waitMs: 0 } });
    expect(changes).toMatchObject({ status: 200, body: { ok: true } });
    const withToken = await signed({
      op: 'count',
      view: 'orders',
      partitions: [0],
      args: { filter: NO_FILTER, minOffsets: { '0': '0' }, fallback: false },
    });
    expect(withToken.status).toBe(200);
  });

  it('refuses the same signed request sent again (a replay), and accepts the same body with a fresh nonce', async () => {
    const body = JSON.stringify({ v: 1, op: 'count', view: 'orders', partitions: PARTITIONS, args: { filter: NO_FILTER } });
    const headers = signedHeaders(SECRET, body);
    const first = await post(body, headers);
    expect(first).toMatchObject({ status: 200, body: { ok: true, result: 20 } });
    const replay = await post(body, headers);
    expect(replay).toMatchObject({ status: 401, body: { ok: false, code: 'GW_PEER_REPLAYED' } });
    expect(await post(body, headers)).toMatchObject({ status: 401, body: { code: 'GW_PEER_REPLAYED' } });
    // The same request signed again by its sender (a new nonce) is a new request.
    expect(await post(body, signedHeaders(SECRET, body))).toMatchObject({ status: 200, body: { ok: true } });
  });

  it('refuses a nonce that is not covered by the signature (a replay with a new nonce)', async () => {
    const body = JSON.stringify({ v: 1, op: 'count', view: 'orders', partitions: PARTITIONS, args: { filter: NO_FILTER } });
    const headers = signedHeaders(SECRET, body);
    expect((await post(body, headers)).status).toBe(200);
    const renonced = await post(body, { ...headers, [NONCE_HEADER]: 'another-nonce-0123456789' });
    expect(renonced).toMatchObject({ status: 401, body: { code: 'GW_PEER_UNAUTHORIZED' } });
  });

  it('refuses missing, malformed or stale signature headers with 401', async () => {
    const body = JSON.stringify({ v: 1, op: 'count', view: 'orders', partitions: PARTITIONS, args: { filter: NO_FILTER } });
    const good = signedHeaders(SECRET, body);
    const { [NONCE_HEADER]: _nonce, ...withoutNonce } = good;
    const stale = signedHeaders(SECRET, body, String(Date.now() - 60_000));
    for (const headers of [
      { 'content-type': 'application/json' },
      withoutNonce,
      { ...good, [NONCE_HEADER]: 'short' },
      { ...good, [SIGNATURE_HEADER]: 'v1=zz' },
      { ...good, [TIME_HEADER]: 'yesterday' },
      stale,
    ]) {
      expect(await post(body, headers)).toMatchObject({ status: 401, body: { ok: false, code: 'GW_PEER_UNAUTHORIZED' } });
    }
  });

  it('refuses a declared length over the limit with 413 before any of the body is sent', async () => {
    const answer = await rawPost(
      { ...signedHeaders(SECRET, 'not this body'), 'content-length': 50 << 20 },
      // The body would start only after 10 s: the answer must come from the headers alone.
      { chunk: Buffer.alloc(64 * 1024, 0x20), total: 50 << 20, pauseFirstMs: 10_000 },
    );
    expect(answer.status).toBe(413);
    expect(answer.json).toMatchObject({ ok: false, code: 'GW_PEER_TOO_LARGE' });
    expect(answer.sentBeforeAnswer).toBe(0);
  });

  it('cuts a 50 MiB chunked body at the limit and refuses it with 413', async () => {
    const answer = await rawPost(signedHeaders(SECRET, 'not this body'), { chunk: Buffer.alloc(64 * 1024, 0x20), total: 50 << 20 });
    expect(answer.status).toBe(413);
    expect(answer.json).toMatchObject({ ok: false, code: 'GW_PEER_TOO_LARGE' });
    expect(answer.finished).toBe(false);
    // The server stopped reading at the limit; what was sent past it sits in socket buffers.
    expect(answer.sentBeforeAnswer).toBeLessThan(24 << 20);
  });

  it('refuses an unsigned body, even one within the limit, before any of it is sent', async () => {
    const unsigned: Array<Record<string, string | number>> = [
      { 'content-type': 'application/json', 'content-length': MAX_PEER_BODY_BYTES - 1 },
      { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      // Well-formed headers, but signed two minutes ago: the time is checked before the body.
      { ...signedHeaders(SECRET, 'x', String(Date.now() - 120_000)), 'content-length': MAX_PEER_BODY_BYTES - 1 },
    ];
    for (const headers of unsigned) {
      const answer = await rawPost(headers, { chunk: Buffer.alloc(64 * 1024, 0x20), total: MAX_PEER_BODY_BYTES - 1, pauseFirstMs: 10_000 });
      expect(answer.status).toBe(401);
      expect(answer.json).toMatchObject({ ok: false, code: 'GW_PEER_UNAUTHORIZED' });
      expect(answer.sentBeforeAnswer).toBe(0);
    }
  });

  const key = { partition: 0, key: 'ord-000003' };
  const page = { sortField: 'createdAt', descending: false, filter: NO_FILTER, limit: 5, backward: false };
  const malformed: Array<{ name: string; envelope: Record<string, unknown> }> = [
    // Envelope
    { name: 'an unknown envelope field', envelope: { op: 'count', view: 'orders', partitions: [0], args: { filter: NO_FILTER }, extra: 1 } },
    { name: 'partitions that are not integers', envelope: { op: 'count', view: 'orders', partitions: ['0'], args: { filter: NO_FILTER } } },
    {
      name: 'a huge partitions array',
      envelope: { op: 'count', view: 'orders', partitions: Array.from({ length: 20_000 }, (_, i) => i), args: { filter: NO_FILTER } },
    },
    { name: 'repeated partitions', envelope: { op: 'count', view: 'orders', partitions: [0, 0], args: { filter: NO_FILTER } } },
    { name: 'args as an array', envelope: { op: 'count', view: 'orders', partitions: [0], args: [] } },
    { name: 'an unknown view', envelope: { op: 'count', view: 'nope', partitions: [0], args: { filter: NO_FILTER } } },
    // Common arguments
    {
      name: 'minOffsets that are not offsets',
      envelope: { op: 'count', view: 'orders', partitions: [0], args: { filter: NO_FILTER, minOffsets: { '0': 'abc' } } },
    },
    {
      name: 'minOffsets of another partition',
      envelope: { op: 'count', view: 'orders', partitions: [0], args: { filter: NO_FILTER, minOffsets: { '1': '5' } } },
    },
    {
      name: 'fallback that is not a boolean',
      envelope: { op: 'count', view: 'orders', partitions: [0], args: { filter: NO_FILTER, fallback: 'yes' } },
    },
    { name: 'an unknown argument', envelope: { op: 'count', view: 'orders', partitions: [0], args: { filter: NO_FILTER, limit: 3 } } },
    // lookup
    { name: 'lookup without keys', envelope: { op: 'lookup', view: 'orders', partitions: [0], args: {} } },
    { name: 'lookup keys that are strings', envelope: { op: 'lookup', view: 'orders', partitions: [0], args: { keys: ['ord-000003'] } } },
    { name: 'lookup keys that are null', envelope: { op: 'lookup', view: 'orders', partitions: [0], args: { keys: [null] } } },
    {
      name: 'a lookup key that is a number',
      envelope: { op: 'lookup', view: 'orders', partitions: [0], args: { keys: [{ partition: 0, key: 3 }] } },
    },
    {
      name: 'a lookup key in another partition',
      envelope: { op: 'lookup', view: 'orders', partitions: [0], args: { keys: [{ partition: 1, key: 'x' }] } },
    },
    {
      name: 'a lookup key with an unknown field',
      envelope: { op: 'lookup', view: 'orders', partitions: [0], args: { keys: [{ ...key, row: {} }] } },
    },
    {
      name: 'a lookup filter on an unknown field',
      envelope: {
        op: 'lookup',
        view: 'orders',
        partitions: [0],
        args: { keys: [key], filter: { equals: [{ field: 'nope', values: ['x'] }], ranges: [] } },
      },
    },
    { name: 'a lookup filter that is a list', envelope: { op: 'lookup', view: 'orders', partitions: [0], args: { keys: [key], filter: [] } } },
    {
      name: 'a huge keys array',
      envelope: { op: 'lookup', view: 'orders', partitions: [0], args: { keys: Array.from({ length: 100_001 }, () => 0) } },
    },
    // pages
    { name: 'pages requests that is an object', envelope: { op: 'pages', view: 'orders', partitions: [0], args: { requests: { 0: page } } } },
    { name: 'a page request that is null', envelope: { op: 'pages', view: 'orders', partitions: [0], args: { requests: [null] } } },
    {
      name: 'a page sorted by an unknown field',
      envelope: { op: 'pages', view: 'orders', partitions: [0], args: { requests: [{ ...page, sortField: 'secret' }] } },
    },
    {
      name: 'a page limit that is a string',
      envelope: { op: 'pages', view: 'orders', partitions: [0], args: { requests: [{ ...page, limit: '5' }] } },
    },
    { name: 'a huge page limit', envelope: { op: 'pages', view: 'orders', partitions: [0], args: { requests: [{ ...page, limit: 1e9 }] } } },
    {
      name: 'a page without filter',
      envelope: { op: 'pages', view: 'orders', partitions: [0], args: { requests: [{ ...page, filter: undefined }] } },
    },
    {
      name: 'a page cursor of the wrong shape',
      envelope: { op: 'pages', view: 'orders', partitions: [0], args: { requests: [{ ...page, cursor: [{}, 'k', 3] }] } },
    },
    {
      name: 'a page filter value that is an object',
      envelope: {
        op: 'pages',
        view: 'orders',
        partitions: [0],
        args: { requests: [{ ...page, filter: { equals: [{ field: 'state', values: [{}] }], ranges: [] } }] },
      },
    },
    // count
    { name: 'count without filter', envelope: { op: 'count', view: 'orders', partitions: [0], args: {} } },
    {
      name: 'count filter on an unknown field',
      envelope: { op: 'count', view: 'orders', partitions: [0], args: { filter: { equals: [{ field: 'nope', values: ['x'] }], ranges: [] } } },
    },
    {
      name: 'count range bound of the wrong shape',
      envelope: { op: 'count', view: 'orders', partitions: [0], args: { filter: { equals: [], ranges: [{ field: 'createdAt', lower: 'x' }] } } },
    },
    {
      name: 'count filter with many conditions',
      envelope: {
        op: 'count',
        view: 'orders',
        partitions: [0],
        args: { filter: { equals: Array.from({ length: 1000 }, () => ({ field: 'state', values: ['CREATED'] })), ranges: [] } },
      },
    },
    // related
    {
      name: 'related on a field without index',
      envelope: { op: 'related', view: 'payments', partitions: [0], args: { field: 'amount', values: ['x'], limit: 5 } },
    },
    {
      name: 'related values that are numbers',
      envelope: { op: 'related', view: 'payments', partitions: [0], args: { field: 'orderId', values: [1, 2], limit: 5 } },
    },
    {
      name: 'related limit that is negative',
      envelope: { op: 'related', view: 'payments', partitions: [0], args: { field: 'orderId', values: ['x'], limit: -1 } },
    },
    {
      name: 'related filter value that is an object',
      envelope: {
        op: 'related',
        view: 'payments',
        partitions: [0],
        args: { field: 'orderId', values: ['x'], limit: 5, filter: { equals: [{ field: 'orderId', values: [{}] }], ranges: [] } },
      },
    },
    { name: 'related without field', envelope: { op: 'related', view: 'payments', partitions: [0], args: { values: ['x'], limit: 5 } } },
    // changes
    { name: 'changes without since', envelope: { op: 'changes', view: 'orders', partitions: [0], args: { limit: 5 } } },
    { name: 'changes since of another partition', envelope: { op: 'changes', view: 'orders', partitions: [0], args: { since: { '1': '0' } } } },
    { name: 'changes since that is not an offset', envelope: { op: 'changes', view: 'orders', partitions: [0], args: { since: { '0': -1 } } } },
    {
      name: 'changes waitMs that is a string',
      envelope: { op: 'changes', view: 'orders', partitions: [0], args: { since: { '0': '0' }, waitMs: '1000' } },
    },
    { name: 'changes limit of zero', envelope: { op: 'changes', view: 'orders', partitions: [0], args: { since: { '0': '0' }, limit: 0 } } },
  ];

  for (const { name, envelope } of malformed) {
    it(`answers ${name} with 400 GW_PEER_BAD_REQUEST`, async () => {
      const answer = await signed(envelope);
      expect(answer.body.message, JSON.stringify(answer.body)).toBeDefined();
      expect(answer).toMatchObject({ status: 400, body: { ok: false, code: 'GW_PEER_BAD_REQUEST' } });
    });
  }

  it('still answers after all of that', async () => {
    expect(await signed({ op: 'count', view: 'orders', partitions: PARTITIONS, args: { filter: NO_FILTER } })).toMatchObject({
      status: 200,
      body: { result: 20 },
    });
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
  });
});

import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { keyed, order } from '../support/data.ts';
import { useFixture } from '../support/fixture.ts';
import type { TestGateway } from '../support/gateway.ts';

const ORDER = 'query Order($id: ID!) { order(orderId: $id) { orderId state } }';
const CHANGES = 'subscription Changes($id: ID!) { orderChanged(orderId: $id) { kind node { orderId } } }';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

interface Answer {
  data?: { order?: { orderId: string } | null };
  errors?: Array<{ message: string; extensions: { code: string; retriable: boolean } }>;
}

/** A graphql-ws socket that sends one subscribe and collects what comes back until `next` or `error`. */
function subscribeOnce(socket: import('ws').WebSocket, payload: Record<string, unknown>): Promise<{ type: string; payload?: unknown }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no answer within 10 s')), 10_000);
    socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init' })));
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as { type: string; payload?: unknown };
      if (message.type === 'connection_ack') socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload }));
      if (message.type === 'next' || message.type === 'error') {
        clearTimeout(timer);
        resolve(message);
      }
    });
  });
}

describe('trusted documents (TRUSTED_DOCUMENTS_FILE)', () => {
  const fx = useFixture('trusted');
  let gw: TestGateway;

  beforeAll(async () => {
    const dir = await fx.tempDir('gw-trusted-');
    const manifest = path.join(dir, 'persisted-documents.json');
    // The client preset's format: sha256 of the document text -> the text.
    await writeFile(manifest, JSON.stringify({ [sha256(ORDER)]: ORDER, [sha256(CHANGES)]: CHANGES }));
    gw = await fx.startGateway({ env: { TRUSTED_DOCUMENTS_FILE: manifest } });
    await fx.produce('orders', [keyed('orderId', order(5))]);
    await fx.waitCaughtUp(gw, ['orders']);
  });

  const post = (body: Record<string, unknown>) =>
    fetch(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: JSON.stringify(body),
    });

  it('runs a registered document named by documentId, with or without sha256:, or by the APQ hash', async () => {
    const variables = { id: 'ord-000005' };
    for (const body of [
      { documentId: sha256(ORDER), variables },
      { documentId: `sha256:${sha256(ORDER)}`, variables },
      { extensions: { persistedQuery: { version: 1, sha256Hash: sha256(ORDER) } }, variables },
    ]) {
      const response = await post(body);
      expect(response.status).toBe(200);
      expect(((await response.json()) as Answer).data?.order?.orderId).toBe('ord-000005');
    }
    // A GET names it in the URL (queries only, with the CSRF header as every GET).
    const get = await fetch(`${gw.url}/graphql?documentId=${sha256(ORDER)}&variables=${encodeURIComponent(JSON.stringify(variables))}`, {
      headers: { accept: 'application/json', 'x-graphql-csrf': '1' },
    });
    expect(get.status).toBe(200);
    expect(((await get.json()) as Answer).data?.order?.orderId).toBe('ord-000005');
  });

  it('refuses query text (alone or beside an id), a request without an id, and an unknown id with 400', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ query: '{ order(orderId: "ord-000005") { orderId } }' }, 'GW_DOCUMENT_NOT_TRUSTED'],
      // The registered text itself is not enough: only ids are accepted.
      [{ query: ORDER, variables: { id: 'ord-000005' } }, 'GW_DOCUMENT_NOT_TRUSTED'],
      [{ query: ORDER, documentId: sha256(ORDER), variables: { id: 'ord-000005' } }, 'GW_DOCUMENT_NOT_TRUSTED'],
      [{ variables: { id: 'ord-000005' } }, 'GW_DOCUMENT_NOT_TRUSTED'],
      [{ documentId: sha256('{ __schema { types { name } } }') }, 'GW_DOCUMENT_NOT_FOUND'],
      [{ extensions: { persistedQuery: { version: 1, sha256Hash: 'ab'.repeat(32) } } }, 'GW_DOCUMENT_NOT_FOUND'],
    ];
    for (const [body, code] of cases) {
      const response = await post(body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      const answer = (await response.json()) as Answer;
      expect(answer.data).toBeUndefined();
      expect(answer.errors?.[0]?.extensions).toMatchObject({ code, retriable: false });
    }
  });

  it('over WebSocket runs a registered subscription by id (query "") and refuses query text', async () => {
    const ok = await subscribeOnce(fx.websocket(gw.url), { query: '', documentId: sha256(CHANGES), variables: { id: 'ord-000005' } });
    expect(ok).toMatchObject({ type: 'next', payload: { data: { orderChanged: { kind: 'SNAPSHOT', node: { orderId: 'ord-000005' } } } } });
    const apq = await subscribeOnce(fx.websocket(gw.url), {
      query: '',
      extensions: { persistedQuery: { version: 1, sha256Hash: sha256(CHANGES) } },
      variables: { id: 'ord-000005' },
    });
    expect(apq.type).toBe('next');
    for (const [payload, code] of [
      [{ query: CHANGES, variables: { id: 'ord-000005' } }, 'GW_DOCUMENT_NOT_TRUSTED'],
      [{ query: '' }, 'GW_DOCUMENT_NOT_TRUSTED'],
      [{ query: '', documentId: 'cd'.repeat(32) }, 'GW_DOCUMENT_NOT_FOUND'],
    ] as const) {
      const refused = await subscribeOnce(fx.websocket(gw.url), payload);
      expect(refused.type).toBe('error');
      expect((refused.payload as Array<{ extensions: { code: string } }>)[0]!.extensions.code).toBe(code);
    }
  });
});

describe('without TRUSTED_DOCUMENTS_FILE', () => {
  const fx = useFixture('untrusted');
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await fx.startGateway();
  });

  it('runs query text, and a documentId alone is not a query', async () => {
    const text = await gw.graphql('{ order(orderId: "nope") { orderId } }');
    expect(text.status).toBe(200);
    expect(text.body.data).toEqual({ order: null });
    const byId = await fetch(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: JSON.stringify({ documentId: sha256(ORDER) }),
    });
    expect(byId.status).toBe(400);
    const body = (await byId.json()) as Answer;
    expect(body.errors?.[0]?.extensions?.code).not.toMatch(/^GW_DOCUMENT/);
  });
});

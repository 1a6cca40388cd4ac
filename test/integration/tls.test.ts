import { beforeAll, describe, expect, it } from 'vitest';
import { Agent, fetch as fetchWithAgent } from 'undici';
import WebSocket from 'ws';
import { partitionForKey } from '../../src/cluster/partitioner.ts';
import { createPeerClient } from '../../src/peer/client.ts';
import { keyed, order } from '../support/data.ts';
import { useFixture } from '../support/fixture.ts';
import type { TestGateway } from '../support/gateway.ts';
import { makeCertificates, type TestCertificates } from '../support/tls.ts';

const PEER_SECRET = 'tls-test-peer-secret-0123456789';

/** Subscribes over WSS (trusting `ca`) and resolves with the first event's data. */
function firstEvent(fx: ReturnType<typeof useFixture>, url: string, ca: string, query: string): Promise<unknown> {
  const socket = new WebSocket(`${url.replace(/^https/, 'wss')}/graphql`, 'graphql-transport-ws', { ca });
  fx.defer(async () => socket.terminate());
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no event within 15 s')), 15_000);
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init' })));
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as { type: string; payload?: { data?: unknown } };
      if (message.type === 'connection_ack') socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query } }));
      if (message.type === 'next') {
        clearTimeout(timer);
        resolve(message.payload?.data);
      }
    });
  });
}

describe('HTTPS and WSS on the listener (TLS_CERT_FILE, TLS_KEY_FILE)', () => {
  const fx = useFixture('tls');
  let certs: TestCertificates;
  let gw: TestGateway;
  let trusting: Agent;

  beforeAll(async () => {
    certs = makeCertificates(await fx.tempDir('gw-tls-'));
    gw = await fx.startGateway({ transport: 'in-process', env: { TLS_CERT_FILE: certs.certFile, TLS_KEY_FILE: certs.keyFile } });
    trusting = new Agent({ connect: { ca: certs.ca } });
    fx.defer(() => trusting.close(), 'file');
    await fx.produce('orders', [keyed('orderId', order(6))]);
    await fx.waitCaughtUp(gw, ['orders']);
  });

  it('answers GraphQL over HTTPS to a client that trusts the CA, and not to one that does not', async () => {
    expect(gw.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const response = await fetchWithAgent(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ order(orderId: "ord-000006") { orderId } }' }),
      dispatcher: trusting,
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ data: { order: { orderId: 'ord-000006' } } });
    expect((await fetchWithAgent(`${gw.url}/readyz`, { dispatcher: trusting })).status).toBe(200);
    // The system CAs do not know this one.
    await expect(fetch(`${gw.url}/healthz`)).rejects.toThrow();
    // Plain HTTP on the TLS port gets no answer.
    await expect(fetch(`${gw.url.replace(/^https/, 'http')}/healthz`, { signal: AbortSignal.timeout(5000) })).rejects.toThrow();
  });

  it('serves a subscription over WSS on the same port', async () => {
    const data = await firstEvent(fx, gw.url, certs.ca, 'subscription { orderChanged(orderId: "ord-000006") { kind node { orderId } } }');
    expect(data).toEqual({ orderChanged: { kind: 'SNAPSHOT', node: { orderId: 'ord-000006' } } });
  });

  it('refuses a start with a key that does not belong to the certificate, naming TLS_KEY_FILE', async () => {
    const other = makeCertificates(await fx.tempDir('gw-tls-other-'), 'other');
    await expect(fx.startGateway({ env: { TLS_CERT_FILE: certs.certFile, TLS_KEY_FILE: other.keyFile } })).rejects.toMatchObject({
      code: 'GW_CONFIG_INVALID',
      details: { variable: 'TLS_KEY_FILE' },
    });
  });
});

describe("two instances reading each other's partitions over https (PEER_TLS_CA_FILE)", () => {
  const fx = useFixture('tls-peers');
  let certs: TestCertificates;
  const group: TestGateway[] = [];
  const orders = Array.from({ length: 60 }, (_, i) => order(i + 1));

  beforeAll(async () => {
    certs = makeCertificates(await fx.tempDir('gw-tls-peers-'));
    const env = { TLS_CERT_FILE: certs.certFile, TLS_KEY_FILE: certs.keyFile, PEER_TLS_CA_FILE: certs.caFile, PEER_SECRET, TOPIC_PARTITIONS: '4' };
    group.push(...(await fx.startGateways(2, { transport: 'in-process', group: 'cluster', env })));
    await fx.produce(
      'orders',
      orders.map((row) => keyed('orderId', row)),
    );
    await fx.waitBalanced(group, 'orders');
    await fx.waitCaughtUp(group, ['orders']);
  });

  it('advertise https URLs and answer every order from either instance through the other', async () => {
    for (const test of group) expect(test.url).toMatch(/^https:/);
    const expected = orders.map((row) => row.orderId).sort();
    for (const test of group) {
      const data = await test.query<{ orders: { totalCount: number; edges: Array<{ node: { orderId: string } }> } }>(
        '{ orders(first: 100, orderBy: {field: ORDER_ID}) { totalCount edges { node { orderId } } } }',
      );
      expect(data.orders.totalCount).toBe(60);
      expect(data.orders.edges.map((edge) => edge.node.orderId)).toEqual(expected);
    }
    for (const [i, test] of group.entries()) {
      const peerUrls = [...test.gateway.peers.calls.keys()];
      expect(peerUrls).toEqual([group[1 - i]!.url]);
    }
  });

  it('serves a WSS subscription on one instance for a key the other owns', async () => {
    const key = 'ord-000042';
    const partition = partitionForKey(key, 4);
    const host = group.find((test) => !test.gateway.ingestor.assigned(fx.topic('orders')).includes(partition))!;
    const data = await firstEvent(fx, host.url, certs.ca, `subscription { orderChanged(orderId: "${key}") { kind node { orderId } } }`);
    expect(data).toEqual({ orderChanged: { kind: 'SNAPSHOT', node: { orderId: key } } });
  });

  it('a peer client without the CA cannot reach them', async () => {
    const client = createPeerClient({ secret: PEER_SECRET, timeoutMs: 2000 });
    const view = group[0]!.gateway.reader.view('orders');
    await expect(client.call(group[0]!.url, { op: 'count', view: view.id, partitions: [0], args: {} })).rejects.toMatchObject({
      code: 'GW_PEER_UNREACHABLE',
    });
    await client.close();
  });
});

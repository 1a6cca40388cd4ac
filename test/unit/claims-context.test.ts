import { GraphQLObjectType, GraphQLSchema, GraphQLString } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { GraphQLContext } from '../../src/graphql/context.ts';
import { createLogger } from '../../src/log.ts';
import type { ViewReader } from '../../src/routing/reader.ts';
import { createClientAuth, signClientToken } from '../../src/server/client-auth.ts';
import { startHttpServer, type HttpServer } from '../../src/server/http.ts';
import type { Hub } from '../../src/subscriptions/hub.ts';

const SECRET = 'claims-context-secret-0123456789ab';

/** A schema whose fields answer from `context.claims`: what authorization rules will read. */
const schema = new GraphQLSchema({
  query: new GraphQLObjectType({
    name: 'Query',
    fields: {
      whoami: { type: GraphQLString, resolve: (_root, _args, context: GraphQLContext) => `${context.claims?.sub}/${context.claims?.role}` },
    },
  }),
  subscription: new GraphQLObjectType({
    name: 'Subscription',
    fields: {
      whoami: {
        type: GraphQLString,
        subscribe: async function* (_root: unknown, _args: unknown, context: GraphQLContext) {
          yield { whoami: `${context.claims?.sub}/${context.claims?.role}` };
        },
      },
    },
  }),
});

/** The verified token's claims reach resolvers over HTTP, SSE and WebSocket (`context.claims`). */
describe('verified claims on the GraphQL context', () => {
  let http: HttpServer;
  const token = signClientToken(SECRET, { sub: 'ana', role: 'viewer', exp: Math.floor(Date.now() / 1000) + 600 });

  beforeAll(async () => {
    http = await startHttpServer({
      schema,
      reader: {} as ViewReader,
      host: '127.0.0.1',
      port: 0,
      queryLimits: {
        maxTokens: 1000,
        maxDepth: 10,
        maxAliases: 10,
        maxDirectives: 10,
        maxRootFields: 10,
        maxBreadth: 10,
        maxCost: 10_000,
        defaultPageSize: 10,
        maxPageSize: 10,
        timeoutMs: 0,
      },
      readiness: () => ({ ready: true, detail: {} }),
      metrics: () => '',
      logger: createLogger('silent'),
      subscriptions: { hub: {} as Hub, maxPerConnection: 5 },
      clientAuth: createClientAuth({ secret: SECRET }),
    });
  });
  afterAll(async () => {
    await http?.stop();
  });

  it('over HTTP', async () => {
    const response = await fetch(`${http.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ whoami }' }),
    });
    expect(await response.json()).toMatchObject({ data: { whoami: 'ana/viewer' } });
  });

  it('over SSE', async () => {
    const response = await fetch(`${http.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: 'subscription { whoami }' }),
    });
    expect(await response.text()).toContain('{"data":{"whoami":"ana/viewer"}}');
  });

  it('over WebSocket', async () => {
    const socket = new WebSocket(`${http.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
    const payload = await new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no answer within 5 s')), 5000);
      socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
      socket.on('message', (data) => {
        const message = JSON.parse(String(data)) as { type: string; payload?: unknown };
        if (message.type === 'connection_ack')
          socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription { whoami }' } }));
        if (message.type === 'next') {
          clearTimeout(timer);
          resolve(message.payload);
        }
      });
    });
    socket.terminate();
    expect(payload).toEqual({ data: { whoami: 'ana/viewer' } });
  });
});

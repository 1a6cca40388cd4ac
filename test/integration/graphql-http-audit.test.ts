/**
 * The GraphQL over HTTP spec's audit suite (graphql-http's `serverAudits`) against a started
 * gateway's /graphql over a real socket: every MUST and SHOULD audit passes. The audit's requests
 * carry the CSRF header (x-graphql-csrf), as any script client of this gateway does; without it
 * a GET is refused by design (README, "Browsers, WebSockets and peers").
 */
import { serverAudits, type AuditResult } from 'graphql-http';
import { describe, expect, it } from 'vitest';
import { signClientToken } from '../../src/server/client-auth.ts';
import { useFixture } from '../support/fixture.ts';

const SECRET = 'audit-secret-of-at-least-32-characters!';

describe.each([
  ['without client authentication', {}, undefined],
  ['with client authentication on', { CLIENT_JWT_SECRET: SECRET }, SECRET],
])('GraphQL over HTTP spec audit (graphql-http), %s', (_, env: Record<string, string>, secret: string | undefined) => {
  const fx = useFixture('audit');

  it('passes every MUST and SHOULD audit', async () => {
    const gw = await fx.startGateway({ env });
    const token = secret && signClientToken(secret, { sub: 'audit', exp: Math.floor(Date.now() / 1000) + 600 });
    const fetchFn = (input: string, init: RequestInit = {}) => {
      const headers = new Headers(init.headers);
      headers.set('x-graphql-csrf', '1');
      if (token) headers.set('authorization', `Bearer ${token}`);
      return fetch(input, { ...init, headers });
    };
    const audits = serverAudits({ url: `${gw.url}/graphql`, fetchFn });
    const results: AuditResult[] = [];
    for (const audit of audits) results.push(await audit.fn());
    const required = results.filter((result) => /^(MUST|SHOULD) /.test(result.name));
    const failing = required.filter((result) => result.status !== 'ok');
    const describe = (result: AuditResult) => `${result.id} ${result.name}${result.status === 'ok' ? '' : `: ${result.reason}`}`;
    expect(failing.map(describe), `failing audits:\n${failing.map(describe).join('\n')}`).toEqual([]);
    // The suite ran: it has a few dozen MUST and SHOULD audits.
    expect(required.length).toBeGreaterThan(20);
  });
});

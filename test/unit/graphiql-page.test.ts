import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { describe, expect, it } from 'vitest';
import { graphiqlOptions, offlineGraphiql } from '../../src/server/graphiql.ts';

const decode = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');

describe('GraphiQL page rendered off the main thread', () => {
  it('is the page yoga’s offline renderer makes, with the options of the request', async () => {
    const options = graphiqlOptions('query Example { orders { totalCount } }')(new Request('http://gw/graphql'));
    const page = await offlineGraphiql()(options);
    expect(decode(page)).toBe(renderGraphiQL(options));
    expect(decode(page)).toContain('"initialQuery":"query Example { orders { totalCount } }"');
  });

  it('renders each set of options once, also for requests that arrive during the render', async () => {
    const render = offlineGraphiql();
    const [a, b] = await Promise.all([render({ title: 'a' }), render({ title: 'a' })]);
    const c = await render({ title: 'b' });
    expect(a).toBe(b);
    expect(await render({ title: 'a' })).toBe(a);
    expect(c).not.toBe(a);
    expect(decode(c)).toContain('<title>b</title>');
  });

  it('does not keep a failed render: the next request renders again', async () => {
    const render = offlineGraphiql();
    // A function cannot be sent to the worker; JSON leaves it out, so the key is that of { title: 'x' }.
    const bad = { title: 'x', headerEditorEnabled: () => true } as never;
    const first = render(bad);
    await expect(first).rejects.toThrow();
    const retry = await render({ title: 'x' });
    expect(decode(retry)).toContain('<title>x</title>');
  });
});

import { createServer } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { isGatewayError } from '../../src/errors.ts';
import { useFixture } from '../support/fixture.ts';

describe('a start that fails', () => {
  const fx = useFixture('start');
  let port: number;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await fx.tempDir('gw-test-start-');
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    fx.defer(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    port = (blocker.address() as { port: number }).port;
  });

  it('on a port in use reports that, not an error from undoing the start, and releases the store', async () => {
    const failure = await fx.startGateway({ dataDir, env: { PORT: String(port) } }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isGatewayError(failure) && failure.code).toBe('GW_CONFIG_INVALID');
    expect((failure as Error).message).toContain(`PORT cannot be listened on: 127.0.0.1:${port}`);
    expect((failure as Error).message).toContain('already in use');

    // The failed start closed RocksDB: the same data directory opens again (its lock is free).
    const gw = await fx.startGateway({ dataDir });
    expect(gw.gateway.readiness().ready).toBe(true);
  });
});

import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isGatewayError } from '../../src/errors.ts';
import { startTestGateway, uniqueName } from '../support/gateway.ts';

describe('a start that fails', () => {
  let blocker: Server;
  let port: number;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'gw-test-start-'));
    blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    port = (blocker.address() as { port: number }).port;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
    await rm(dataDir, { recursive: true, force: true });
  });

  it('on a port in use reports that, not an error from undoing the start, and releases the store', async () => {
    const prefix = `${uniqueName('start')}.`;
    const failure = await startTestGateway({ topicPrefix: prefix, dataDir, env: { PORT: String(port) } }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isGatewayError(failure) && failure.code).toBe('GW_CONFIG_INVALID');
    expect((failure as Error).message).toContain(`PORT cannot be listened on: 127.0.0.1:${port}`);
    expect((failure as Error).message).toContain('already in use');

    // The failed start closed RocksDB: the same data directory opens again (its lock is free).
    const gw = await startTestGateway({ topicPrefix: prefix, dataDir });
    try {
      expect(gw.gateway.readiness().ready).toBe(true);
    } finally {
      await gw.stop();
    }
  });
});

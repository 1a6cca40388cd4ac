/**
 * `npm start`: runs one gateway instance configured by environment variables (see README).
 * Exits 1 with the offending variable named when the configuration is invalid; stops cleanly on
 * SIGTERM/SIGINT (HTTP first, then the consumer, then the store).
 */
import { loadConfig } from './config.ts';
import { isGatewayError } from './errors.ts';
import { createGateway } from './gateway.ts';
import { createLogger } from './log.ts';

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    process.stderr.write(`configuration error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
  const logger = createLogger(config.logLevel, { group: config.groupId });
  const gateway = await createGateway(config, logger);
  logger.info('gateway started', { graphql: `${gateway.url}/graphql`, advertised: config.advertisedUrl ?? gateway.url });
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping', { signal });
    gateway.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error('stop failed', { error });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  const code = isGatewayError(error) ? error.code : 'GW_INTERNAL_ERROR';
  process.stderr.write(`gateway failed to start (${code}): ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

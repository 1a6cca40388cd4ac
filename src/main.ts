/**
 * `npm start`: runs one gateway instance configured by environment variables (see README).
 * Exits 1 with the offending variable named when the configuration is invalid. Starts tracing
 * first when the OTEL_* variables ask for it (src/tracing.ts). On SIGTERM or SIGINT it stops
 * gracefully (src/signals.ts; README, "Shutdown"); a second signal exits at once.
 */
import { loadConfig } from './config.ts';
import { isGatewayError } from './errors.ts';
import { createGateway } from './gateway.ts';
import { createLogger } from './log.ts';
import { handleStopSignals, STOP_MARGIN_MS } from './signals.ts';
import { startTracing, type TracingHandle } from './tracing.ts';

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    process.stderr.write(`configuration error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
  const logger = createLogger(config.logLevel, { group: config.groupId });
  let tracing: TracingHandle | undefined;
  if (config.tracing) {
    tracing = await startTracing(config.tracing);
    logger.info('tracing on', { exporter: config.tracing.exporter, service: config.tracing.serviceName, sampler: config.tracing.sampler });
  }
  const starting = createGateway(config, logger);
  // From the start on: a signal during the start stops the instance once it has started (a
  // failed start exits 1 below), and a second one exits at once.
  handleStopSignals({
    logger,
    forceAfterMs: config.shutdownDelayMs + config.shutdownTimeoutMs + STOP_MARGIN_MS,
    async stop() {
      const gateway = await starting;
      await gateway.stop({ delayMs: config.shutdownDelayMs, timeoutMs: config.shutdownTimeoutMs });
      await tracing?.stop();
    },
  });
  const gateway = await starting;
  logger.info('gateway started', { graphql: `${gateway.url}/graphql`, advertised: config.advertisedUrl ?? gateway.url });
}

main().catch((error: unknown) => {
  const code = isGatewayError(error) ? error.code : 'GW_INTERNAL_ERROR';
  process.stderr.write(`gateway failed to start (${code}): ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

/**
 * What SIGTERM and SIGINT do to a running instance (README, "Shutdown"): the first starts the
 * graceful stop, and the process exits 0 when it ends (1 when it fails, or when it has not ended
 * after `forceAfterMs`); a second signal exits at once with 128 + the signal's number (143 for
 * SIGTERM, 130 for SIGINT), whatever the stop is doing.
 */
import type { Logger } from './log.ts';

export interface StopSignalsOptions {
  /** The graceful stop. */
  readonly stop: (signal: NodeJS.Signals) => Promise<void>;
  readonly logger: Logger;
  /** Exits with a status after the stop, or at once on a second signal; default `process.exit`. */
  readonly exit?: (code: number) => void;
  /** Where the signals come from; default `process`. */
  readonly signals?: { on(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown };
  /** Exits 1 when the stop has not ended after this long. */
  readonly forceAfterMs: number;
}

/**
 * How long the stop may take beyond its HTTP deadline (SHUTDOWN_DELAY_MS + SHUTDOWN_TIMEOUT_MS):
 * the consumer leaving the group, the store closing, spans exported. Past it the process exits 1.
 */
export const STOP_MARGIN_MS = 15_000;

const SIGNAL_NUMBERS: Readonly<Record<string, number>> = { SIGINT: 2, SIGTERM: 15 };

export function handleStopSignals(options: StopSignalsOptions): void {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const source = options.signals ?? process;
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      options.logger.warn('second signal: exiting at once', { signal });
      exit(128 + (SIGNAL_NUMBERS[signal] ?? 0));
      return;
    }
    stopping = true;
    options.logger.info('stopping', { signal });
    const started = Date.now();
    const force = setTimeout(() => {
      options.logger.error('stop did not end in time: exiting', { afterMs: options.forceAfterMs });
      exit(1);
    }, options.forceAfterMs);
    force.unref();
    options.stop(signal).then(
      () => {
        clearTimeout(force);
        options.logger.info('stopped', { ms: Date.now() - started });
        exit(0);
      },
      (error: unknown) => {
        clearTimeout(force);
        options.logger.error('stop failed', { error });
        exit(1);
      },
    );
  };
  source.on('SIGTERM', onSignal);
  source.on('SIGINT', onSignal);
}

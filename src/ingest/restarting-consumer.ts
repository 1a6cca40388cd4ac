/**
 * A consumer that does not stay down. KafkaJS restarts a consumer by itself after retriable
 * errors only; after any other crash (a store write that failed, an error KafkaJS classes as
 * fatal) this replaces it with a new one after a backoff, again and again until it starts.
 * While it is down, `failure` says why.
 */
import type { ConsumerOptions, KafkaClient, RecordConsumer } from '../kafka/client.ts';
import type { Logger } from '../log.ts';

export interface RestartingConsumer {
  /** Starts the first consumer; fails if that one cannot start (a configuration problem). */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Why the consumer is down right now, if it is. */
  readonly failure: Error | undefined;
}

export interface RestartingConsumerOptions {
  readonly kafka: KafkaClient;
  readonly consumer: ConsumerOptions;
  readonly logger: Logger;
  /** Delay before the n-th restart (n from 1). */
  readonly backoff: (attempt: number) => number;
  /** Called before every restart. */
  readonly onRestart?: () => void;
}

export function createRestartingConsumer(options: RestartingConsumerOptions): RestartingConsumer {
  const { kafka, logger } = options;
  const group = options.consumer.groupId;
  let current: RecordConsumer | undefined;
  let failure: Error | undefined;
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;

  const later = (attempt: number): void => {
    timer = setTimeout(() => {
      timer = undefined;
      if (stopping) return;
      options.onRestart?.();
      void run(attempt).catch((error: unknown) => logger.error('consumer restart failed', { group, error }));
    }, options.backoff(attempt));
  };

  const run = async (attempt: number): Promise<void> => {
    const consumer = kafka.consumer({
      ...options.consumer,
      onCrash: (error, willRestart) => {
        logger.error('consumer crashed', { group, error, willRestart });
        if (willRestart || stopping) return;
        failure = error;
        if (current === consumer) current = undefined;
        void consumer.stop().catch(() => undefined);
        later(attempt + 1);
      },
    });
    current = consumer;
    try {
      await consumer.start();
      failure = undefined;
    } catch (error) {
      if (attempt === 0) throw error;
      failure = error as Error;
      if (current === consumer) current = undefined;
      await consumer.stop().catch(() => undefined);
      if (!stopping) later(attempt + 1);
    }
  };

  return {
    start: () => run(0),
    async stop() {
      stopping = true;
      clearTimeout(timer);
      await current?.stop();
      current = undefined;
    },
    get failure() {
      return failure;
    },
  };
}

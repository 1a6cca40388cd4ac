/**
 * Starts one real Kafka broker for the whole test run with the project's launcher
 * (deploy/kafka/kafka.sh), unless KAFKA_BROKERS points at one already, and stops it afterwards.
 * Tests isolate themselves with unique topic prefixes and group ids.
 */
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';

const run = promisify(execFile);
const launcher = path.resolve(import.meta.dirname, '../../deploy/kafka/kafka.sh');

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const existing = process.env.KAFKA_BROKERS;
  if (existing) {
    project.provide('kafkaBrokers', existing);
    return async () => undefined;
  }
  const stateDir = await mkdtemp(path.join(os.tmpdir(), 'gw-test-kafka-'));
  const env = {
    ...process.env,
    KAFKA_STATE_DIR: stateDir,
    KAFKA_PORT: process.env.TEST_KAFKA_PORT ?? '39092',
    KAFKA_FRESH: '1',
  };
  const { stdout } = await run('bash', [launcher, 'start'], { env, timeout: 180_000 });
  const brokers = /KAFKA_BROKERS=(\S+)/.exec(stdout)?.[1];
  if (!brokers) throw new Error(`the Kafka launcher did not report KAFKA_BROKERS:\n${stdout}`);
  project.provide('kafkaBrokers', brokers);
  return async () => {
    await run('bash', [launcher, 'stop'], { env, timeout: 60_000 });
  };
}

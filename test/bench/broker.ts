/**
 * The bench's own broker: deploy/kafka/kafka.sh with a fresh state dir under the OS temp dir and
 * a port of its own, so it never touches a developer's or the test suite's broker. It is stopped
 * and its state dir removed by the cleanup steps, also when the bench fails or is interrupted.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { onCleanup } from './cleanup.ts';
import { REPO_ROOT } from './settings.ts';

const run = promisify(execFile);
const LAUNCHER = path.join(REPO_ROOT, 'deploy/kafka/kafka.sh');

export interface Broker {
  readonly brokers: string;
  readonly stateDir: string;
  /** Milliseconds the launcher took until the broker answered. */
  readonly startMs: number;
}

export async function startBroker(options: { port: number; tmpRoot: string }): Promise<Broker> {
  const stateDir = mkdtempSync(path.join(options.tmpRoot, 'gw-bench-kafka-'));
  const env = {
    ...process.env,
    KAFKA_STATE_DIR: stateDir,
    KAFKA_PORT: String(options.port),
    KAFKA_FRESH: '1',
  };
  const stop = (): void => {
    try {
      execFileSync('bash', [LAUNCHER, 'stop'], { env, timeout: 60_000, stdio: ['ignore', 'ignore', 'inherit'] });
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  };
  // Registered before starting: a start that times out may leave a broker running.
  onCleanup(
    'stop broker',
    async () => {
      try {
        await run('bash', [LAUNCHER, 'stop'], { env, timeout: 60_000 });
      } finally {
        rmSync(stateDir, { recursive: true, force: true });
      }
    },
    stop,
  );
  const started = performance.now();
  const { stdout } = await run('bash', [LAUNCHER, 'start'], { env, timeout: 180_000 });
  const brokers = /KAFKA_BROKERS=(\S+)/.exec(stdout)?.[1];
  if (!brokers) throw new Error(`the Kafka launcher did not report KAFKA_BROKERS:\n${stdout}`);
  return { brokers, stateDir, startMs: performance.now() - started };
}

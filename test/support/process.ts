/**
 * Runs the gateway as a real child process (`node src/main.ts`), for tests that kill it.
 * The HTTP URL is read from its structured log line `http listening`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { waitFor } from './wait.ts';

const MAIN = path.resolve(import.meta.dirname, '../../src/main.ts');

/** Calls `onLine` for each complete UTF-8 line the stream emits (a partial last line waits). */
export function onLines(stream: Readable, onLine: (line: string) => void): void {
  let buffered = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) onLine(line);
  });
}

export interface GatewayProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** Lines the process wrote to stderr so far. */
  readonly log: string[];
  metric(name: string): Promise<number>;
  kill(signal: NodeJS.Signals): Promise<void>;
}

export async function spawnGateway(env: Record<string, string>): Promise<GatewayProcess> {
  const child = spawn(process.execPath, [MAIN], {
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const log: string[] = [];
  let url: string | undefined;
  onLines(child.stderr!, (line) => {
    log.push(line);
    const match = /"msg":"http listening".*"url":"(http:\/\/[^"]+)\/graphql"/.exec(line);
    if (match) url = match[1];
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitFor(() => url ?? (child.exitCode !== null || child.signalCode !== null ? 'exited' : undefined), {
    what: 'gateway process listening',
    timeoutMs: 60_000,
  });
  if (!url) throw new Error(`gateway exited before listening:\n${log.join('\n')}`);
  return {
    child,
    url: url!,
    log,
    async metric(name) {
      const text = await (await fetch(`${url}/metrics`)).text();
      const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `));
      return Number(line?.split(' ')[1] ?? Number.NaN);
    },
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

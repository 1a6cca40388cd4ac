/**
 * The HTTP servers under test, each a child process on 127.0.0.1:
 *
 * - the gateway, `node src/main.ts`, configured by environment as in production. With
 *   LOG_LEVEL=warn it does not log its URL (that line is info), so the bench picks a free port
 *   itself and passes it as PORT;
 * - the baseline, `node test/bench/baseline-server.ts <orders.ndjson>`, which prints its URL;
 * - PostGraphile, `node test/bench/postgraphile-server.ts <postgres-url> <pool>`, which does too.
 *
 * stderr of both goes to a log file next to the run's other temp files; its tail is shown when a
 * server fails.
 */
import type { ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { exited, spawnTracked, terminate } from './cleanup.ts';
import { GATEWAY_NODE_FLAGS, gatewayAllocatorEnv, REPO_ROOT, TOPIC_PREFIX } from './settings.ts';

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly url: string;
  readonly logFile: string;
  /** Milliseconds from spawn until the server answered HTTP. */
  readonly upMs: number;
  readonly spawnedAt: number;
  stop(): Promise<number | string>;
}

export function logTail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** A port that was free a moment ago (the small race with other processes is accepted). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('could not determine a free port');
  return address.port;
}

async function waitHttp(url: string, child: ChildProcess, logFile: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`server exited (${child.exitCode ?? child.signalCode}) before answering:\n${logTail(logFile)}`);
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await response.arrayBuffer();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`server did not answer ${url} within ${timeoutMs} ms:\n${logTail(logFile)}`);
}

function wrap(child: ChildProcess, url: string, logFile: string, spawnedAt: number): ServerProcess {
  return {
    child,
    pid: child.pid!,
    url,
    logFile,
    upMs: performance.now() - spawnedAt,
    spawnedAt,
    stop: () => terminate(child, 'SIGTERM', 30_000),
  };
}

export interface GatewayOptions {
  readonly brokers: string;
  readonly dataDir: string;
  readonly groupId: string;
  readonly logFile: string;
  /** Extra node options, e.g. `--cpu-prof`. */
  readonly nodeArgs?: readonly string[];
  /** Extra environment, e.g. `READ_WORKERS`. */
  readonly env?: Readonly<Record<string, string>>;
  /** The source tree to run (default: this one). */
  readonly root?: string;
}

export async function startGateway(options: GatewayOptions): Promise<ServerProcess> {
  const port = await freePort();
  const log = createWriteStream(options.logFile);
  await new Promise((resolve) => log.once('open', resolve));
  const spawnedAt = performance.now();
  const root = options.root ?? REPO_ROOT;
  const child = spawnTracked(process.execPath, [...GATEWAY_NODE_FLAGS, ...(options.nodeArgs ?? []), path.join(root, 'src/main.ts')], {
    cwd: root,
    env: {
      ...process.env,
      KAFKA_BROKERS: options.brokers,
      HOST: '127.0.0.1',
      PORT: String(port),
      DATA_DIR: options.dataDir,
      TOPIC_PREFIX,
      GROUP_ID: options.groupId,
      LOG_LEVEL: 'warn',
      ...gatewayAllocatorEnv(),
      ...options.env,
    },
    stdio: ['ignore', 'ignore', log],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitHttp(`${url}/healthz`, child, options.logFile, 120_000);
  return wrap(child, url, options.logFile, spawnedAt);
}

/** A child server that prints `<marker>=<url>` on stdout when it is ready. */
async function startReporting(
  script: string,
  args: readonly string[],
  marker: string,
  logFile: string,
  options: { readonly nodeFlags?: readonly string[]; readonly env?: NodeJS.ProcessEnv; readonly readyMs: number },
): Promise<ServerProcess> {
  const log = createWriteStream(logFile);
  await new Promise((resolve) => log.once('open', resolve));
  const spawnedAt = performance.now();
  const child = spawnTracked(process.execPath, [...(options.nodeFlags ?? []), path.join(REPO_ROOT, script), ...args], {
    cwd: REPO_ROOT,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', log],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error(`${script} did not report its URL:\n${logTail(logFile)}`)), options.readyMs);
    child.stdout!.setEncoding('utf8').on('data', (text: string) => {
      buffered += text;
      const match = new RegExp(`^${marker}=(\\S+)$`, 'm').exec(buffered);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    exited(child).then((code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${code}):\n${logTail(logFile)}`));
    }, reject);
  });
  child.stdout!.resume();
  return wrap(child, url, logFile, spawnedAt);
}

/** The stock graphql-yoga lookup server over `ordersFile` (one order per line). */
export async function startBaseline(ordersFile: string, logFile: string): Promise<ServerProcess> {
  const server = await startReporting('test/bench/baseline-server.ts', [ordersFile], 'BASELINE_URL', logFile, {
    nodeFlags: GATEWAY_NODE_FLAGS,
    readyMs: 300_000,
  });
  await waitHttp(`${server.url}/health`, server.child, logFile, 30_000);
  return server;
}

/**
 * The floor of a lookup in Node (test/bench/http-floor.ts) over `ordersFile`, on `threads` threads
 * (more than one share a port through `reusePort`).
 */
export async function startFloor(ordersFile: string, threads: number, logFile: string): Promise<ServerProcess> {
  const port = threads > 1 ? await freePort() : 0;
  const server = await startReporting('test/bench/http-floor.ts', [ordersFile, String(port)], 'FLOOR_URL', logFile, {
    nodeFlags: GATEWAY_NODE_FLAGS,
    env: { ...process.env, HTTP_FLOOR_THREADS: String(threads) },
    readyMs: 300_000,
  });
  await waitHttp(`${server.url}/health`, server.child, logFile, 30_000);
  return server;
}

/** PostGraphile over `postgresUrl` (test/bench/postgraphile-server.ts); ready once its schema is built. */
export async function startPostGraphile(postgresUrl: string, poolSize: number, logFile: string): Promise<ServerProcess> {
  return startReporting('test/bench/postgraphile-server.ts', [postgresUrl, String(poolSize)], 'POSTGRAPHILE_URL', logFile, {
    env: { ...process.env, GRAPHILE_ENV: 'production', NODE_ENV: 'production' },
    readyMs: 120_000,
  });
}

export interface Memory {
  /** VmRSS, VmHWM (peak RSS), RssAnon (heaps: V8 and native) and RssFile (mapped files), in bytes. */
  readonly rss: number;
  readonly peak: number;
  readonly anon: number;
  readonly file: number;
}

/** Memory of a process from /proc/<pid>/status. */
export function memoryOf(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
  return { rss: kib('VmRSS'), peak: kib('VmHWM'), anon: kib('RssAnon'), file: kib('RssFile') };
}

/** CPU time (user + system) a process has used so far, in milliseconds, all threads. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesized command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // USER_HZ is 100 on Linux
}

/**
 * Waits until the server has finished the work clients left behind: a load run that ends with
 * requests still queued (slow pages) would otherwise bill them to the next run. Idle means under
 * 10 % of a core over half a second. Returns the milliseconds waited.
 */
export async function waitIdle(server: ServerProcess, maxMs = 600_000): Promise<number> {
  const started = performance.now();
  const intervalMs = 500;
  let previous = cpuMs(server.pid);
  for (let i = 0; i < Math.ceil(maxMs / intervalMs); i++) {
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    if (server.child.exitCode !== null || server.child.signalCode !== null) throw new Error(`server ${server.pid} exited`);
    const now = cpuMs(server.pid);
    if (now - previous < intervalMs * 0.1) return performance.now() - started;
    previous = now;
  }
  throw new Error(`server ${server.pid} was still busy ${maxMs / 1000} s after the load stopped`);
}

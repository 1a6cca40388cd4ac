/**
 * Processes of the scale-out bench: gateway instances on ports chosen up front (HAProxy's config
 * names them), HAProxy from deploy/cluster's template, and small probes (/readyz, /metrics,
 * HAProxy's `show stat`). Every child is spawned through cleanup.ts, so it is SIGKILLed when the
 * bench exits for any reason.
 */
import type { ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { HAPROXY, renderHaproxyConfig } from '../../deploy/cluster.ts';
import { exited, spawnTracked, terminate } from './cleanup.ts';
import { logTail, type ServerProcess } from './servers.ts';
import { GATEWAY_NODE_FLAGS, gatewayAllocatorEnv, REPO_ROOT, TOPIC_PREFIX } from './settings.ts';

export interface Instance {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly dataDir: string;
  readonly logFile: string;
  /** Set once started. */
  server?: ServerProcess;
}

export interface InstanceEnv {
  readonly brokers: string;
  readonly groupId: string;
  readonly peerSecret: string;
  readonly sessionTimeoutMs: number;
}

/** Spawns `node src/main.ts` for the instance; does not wait for anything. */
export async function spawnInstance(instance: Instance, env: InstanceEnv): Promise<ServerProcess> {
  const log = createWriteStream(instance.logFile, { flags: 'a' });
  await new Promise((resolve) => log.once('open', resolve));
  const spawnedAt = performance.now();
  const child = spawnTracked(process.execPath, [...GATEWAY_NODE_FLAGS, path.join(REPO_ROOT, 'src/main.ts')], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      KAFKA_BROKERS: env.brokers,
      HOST: '127.0.0.1',
      PORT: String(instance.port),
      ADVERTISED_URL: instance.url,
      DATA_DIR: instance.dataDir,
      TOPIC_PREFIX,
      GROUP_ID: env.groupId,
      PEER_SECRET: env.peerSecret,
      GROUP_SESSION_TIMEOUT_MS: String(env.sessionTimeoutMs),
      LOG_LEVEL: 'info',
      ...gatewayAllocatorEnv(),
    },
    stdio: ['ignore', 'ignore', log],
  });
  const server: ServerProcess = {
    child,
    pid: child.pid!,
    url: instance.url,
    logFile: instance.logFile,
    upMs: Number.NaN,
    spawnedAt,
    stop: () => terminate(child, 'SIGTERM', 20_000),
  };
  instance.server = server;
  return server;
}

const running = (child: ChildProcess | undefined): boolean => child !== undefined && child.exitCode === null && child.signalCode === null;

/** /readyz status code, or 0 when the instance does not answer. */
export async function readyStatus(url: string): Promise<number> {
  try {
    const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1500) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

/** Polls every 100 ms until every instance's /readyz is 200; returns performance.now() at that moment. */
export async function waitAllReady(instances: readonly Instance[], timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    for (const instance of instances) {
      if (instance.server && !running(instance.server.child)) {
        throw new Error(
          `${instance.name} exited (${instance.server.child.exitCode ?? instance.server.child.signalCode}):\n${logTail(instance.logFile)}`,
        );
      }
    }
    const statuses = await Promise.all(instances.map((instance) => readyStatus(instance.url)));
    if (statuses.every((status) => status === 200)) return performance.now();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`instances ${instances.map((i) => i.name).join(', ')} not all ready within ${timeoutMs} ms`);
}

export interface Metrics {
  readonly ingestRecords: number;
  /** `topic/partition` -> next offset, per assigned partition. */
  readonly nextOffsets: Map<string, number>;
}

export async function metricsOf(url: string): Promise<Metrics> {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const ingestRecords = Number(/^gw_ingest_records_total (\S+)$/m.exec(text)?.[1] ?? Number.NaN);
  const nextOffsets = new Map<string, number>();
  for (const match of text.matchAll(/^gw_partition_next_offset\{topic="([^"]+)",partition="(\d+)"\} (\S+)$/gm)) {
    nextOffsets.set(`${match[1]}/${match[2]}`, Number(match[3]));
  }
  return { ingestRecords, nextOffsets };
}

export interface Haproxy {
  readonly url: string;
  readonly child: ChildProcess;
  readonly log: string[];
  /** HAProxy's status of every server of the gateways backend. */
  status(): Promise<Record<string, string>>;
}

async function adminCommand(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const connection = net.connect({ path: socket });
    let answer = '';
    connection.setEncoding('utf8');
    connection.setTimeout(5000, () => connection.destroy(new Error(`HAProxy did not answer ${command}`)));
    connection.on('data', (chunk: string) => (answer += chunk));
    connection.on('end', () => resolve(answer));
    connection.on('error', reject);
    connection.end(`${command}\n`);
  });
}

/** HAProxy (master-worker, foreground) over the given instances, listening on `port`. */
export async function startHaproxy(stateDir: string, port: number, instances: readonly Instance[]): Promise<Haproxy> {
  const configFile = path.join(stateDir, 'haproxy.cfg');
  await writeFile(configFile, await renderHaproxyConfig({ port, stateDir, servers: instances }));
  const child = spawnTracked(HAPROXY, ['-W', '-db', '-f', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  const log: string[] = [];
  let rest = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    log.push(...lines.filter(Boolean).map((line) => `${new Date().toISOString()} ${line}`));
  });
  void exited(child).catch(() => undefined);
  const socket = path.join(stateDir, 'haproxy.sock');
  const status = async (): Promise<Record<string, string>> => {
    const [header, ...lines] = (await adminCommand(socket, 'show stat')).trim().split('\n');
    const names = (header ?? '').replace(/^# /, '').split(',');
    const rows = lines.map((line) => Object.fromEntries(line.split(',').map((value, i) => [names[i] ?? String(i), value])));
    return Object.fromEntries(rows.filter((row) => row.pxname === 'gateways' && row.svname !== 'BACKEND').map((row) => [row.svname!, row.status!]));
  };
  for (let i = 0; i < 100; i++) {
    if (!running(child)) throw new Error(`HAProxy exited:\n${log.join('\n')}`);
    try {
      if (Object.keys(await status()).length === instances.length) return { url: `http://127.0.0.1:${port}`, child, log, status };
    } catch {
      // socket not there yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`HAProxy's admin socket did not answer:\n${log.join('\n')}`);
}

/** Waits until HAProxy reports exactly the named servers UP (bounded). */
export async function waitHaproxyUp(haproxy: Haproxy, up: readonly string[], timeoutMs: number): Promise<Record<string, string>> {
  const deadline = performance.now() + timeoutMs;
  let last: Record<string, string> = {};
  while (performance.now() < deadline) {
    last = await haproxy.status();
    if (Object.entries(last).every(([name, state]) => (up.includes(name) ? state === 'UP' : state.startsWith('DOWN')))) return last;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`HAProxy did not reach ${up.join(', ')} UP within ${timeoutMs} ms: ${JSON.stringify(last)}`);
}

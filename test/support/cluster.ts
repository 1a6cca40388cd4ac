/**
 * A load-balanced cluster for tests: N gateway child processes (`node src/main.ts`, one group,
 * one PEER_SECRET) behind a real HAProxy started from deploy/cluster/haproxy.cfg.template, on
 * the broker of the test run. HAProxy needs fixed server ports, so each instance gets a free port
 * chosen up front (bind port 0, read it, release it) and PORT and ADVERTISED_URL set to it.
 *
 * Every child process is also registered with 'exit' and SIGTERM handlers that SIGKILL it, so no
 * gateway or HAProxy outlives a test worker that ends without calling stop().
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { renderHaproxyConfig, spawnHaproxy } from '../../deploy/cluster.ts';
import { brokers } from './gateway.ts';
import { spawnGateway, type GatewayProcess } from './process.ts';
import { waitFor } from './wait.ts';

/** Health-check settings of servers added at run time (`add server` does not apply default-server); as in the template. */
const DYNAMIC_SERVER_OPTIONS = 'check inter 500 fall 2 rise 2';
const BACKEND = 'gateways';

export interface ClusterInstance {
  /** HAProxy server name, `gw1`, `gw2`, ... */
  readonly name: string;
  readonly port: number;
  /** Base URL of this instance (GraphQL at `${url}/graphql`). */
  readonly url: string;
  /** stderr lines of every process this instance ran, restarts included. */
  readonly log: readonly string[];
  /** Whether its process is running. */
  running(): boolean;
  /** Sends the signal and waits for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and data dir (kills it first if it runs). */
  restart(): Promise<void>;
  /** Its /readyz answer, or undefined when it does not answer. */
  readiness(): Promise<{ ready: boolean; partitions: number } | undefined>;
}

export interface Cluster {
  /** HAProxy's base URL (GraphQL at `${url}/graphql`). */
  readonly url: string;
  readonly instances: ClusterInstance[];
  /** HAProxy's stderr lines (server state changes, alerts). */
  readonly haproxyLog: string[];
  /** Starts one more instance and adds it to HAProxy, marked down until its health checks pass. */
  addInstance(): Promise<ClusterInstance>;
  /** HAProxy's status of every server, e.g. { gw1: 'UP', gw2: 'DOWN', gw3: 'UP 1/2' }. */
  backends(): Promise<Record<string, string>>;
  /** Per server, HAProxy's count of 2xx responses. */
  responses2xx(): Promise<Record<string, number>>;
  /** Stops HAProxy and every instance, removes the temp dir; safe to call twice. */
  stop(): Promise<void>;
}

export interface ClusterOptions {
  readonly instances: number;
  readonly topicPrefix: string;
  /** Environment of every instance, over the defaults (GROUP_ID `<prefix>cluster`, a random PEER_SECRET, ...). */
  readonly env?: Record<string, string>;
  /** Wait until HAProxy reports every instance UP (default true). */
  readonly waitUp?: boolean;
}

const alive = new Set<ChildProcess>();
let hooksInstalled = false;

/**
 * Kills every tracked child that still runs when this process ends: on 'exit', and on SIGTERM,
 * which is how vitest ends its fork workers (they never reach 'exit' then). After killing, a
 * SIGTERM is raised again so the default action (terminate) still happens.
 */
function track(child: ChildProcess): void {
  alive.add(child);
  child.once('exit', () => alive.delete(child));
  if (hooksInstalled) return;
  hooksInstalled = true;
  const killAll = () => {
    for (const running of alive) running.kill('SIGKILL');
  };
  process.once('exit', killAll);
  process.once('SIGTERM', () => {
    killAll();
    if (process.listenerCount('SIGTERM') === 0) process.kill(process.pid, 'SIGTERM');
  });
}

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * `count` consecutive ports free on 127.0.0.1, below the kernel's ephemeral range: a port in
 * that range can be taken as the local end of any outgoing connection between the check and a
 * child's bind (a broker started mid-run failed that way), one below it cannot.
 */
export async function freePortRun(count: number): Promise<number> {
  let ephemeralLow = 32768;
  try {
    ephemeralLow = Number((await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')).trim().split(/\s+/)[0]) || ephemeralLow;
  } catch {
    // not Linux: keep the usual default
  }
  const low = Math.min(20_000, ephemeralLow - 1_000);
  const high = ephemeralLow - count;
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = low + Math.floor(Math.random() * (high - low));
    let free = true;
    for (let port = base; free && port < base + count; port++) free = await bindable(port);
    if (free) return base;
  }
  throw new Error(`no ${count} consecutive free ports below ${ephemeralLow}`);
}

async function bindable(port: number): Promise<boolean> {
  const server = net.createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Runs commands on HAProxy's admin socket and returns the answer. */
async function haproxyCommand(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const connection = net.connect({ path: socket });
    let answer = '';
    connection.setEncoding('utf8');
    connection.setTimeout(5000, () => connection.destroy(new Error(`HAProxy did not answer ${JSON.stringify(command)}`)));
    connection.on('data', (chunk: string) => (answer += chunk));
    connection.on('end', () => resolve(answer));
    connection.on('error', reject);
    connection.end(`${command}\n`);
  });
}

/** `show stat` as rows of header name -> value, servers of the gateways backend only. */
async function serverStats(socket: string): Promise<Array<Record<string, string>>> {
  const [header, ...lines] = (await haproxyCommand(socket, 'show stat')).trim().split('\n');
  const names = (header ?? '').replace(/^# /, '').split(',');
  return lines
    .map((line) => Object.fromEntries(line.split(',').map((value, i) => [names[i] ?? String(i), value])))
    .filter((row) => row.pxname === BACKEND && row.svname !== 'BACKEND');
}

async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'gw-cluster-'));
  const socket = path.join(root, 'haproxy.sock');
  const env: Record<string, string> = {
    KAFKA_BROKERS: brokers(),
    GROUP_ID: `${options.topicPrefix}cluster`,
    TOPIC_PREFIX: options.topicPrefix,
    PEER_SECRET: randomBytes(16).toString('hex'),
    GROUP_SESSION_TIMEOUT_MS: '3000',
    LOG_LEVEL: 'info',
    ...options.env,
  };
  const instances: ClusterInstance[] = [];
  const haproxyLog: string[] = [];
  let haproxy: ChildProcess | undefined;
  let stopping: Promise<void> | undefined;

  const stoppers: Array<() => Promise<void>> = [];
  /** Instances created so far: names gw1, gw2, ... are taken in call order, also by parallel addInstance calls. */
  let created = 0;

  const createInstance = async (index: number): Promise<ClusterInstance> => {
    const name = `gw${index}`;
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const dataDir = path.join(root, name);
    await mkdir(dataDir, { recursive: true });
    const runs: GatewayProcess[] = [];
    const current = () => runs.at(-1);
    const start = async () => {
      const started = await spawnGateway({ ...env, PORT: String(port), ADVERTISED_URL: url, DATA_DIR: dataDir });
      track(started.child);
      runs.push(started);
    };
    await start();
    stoppers.push(async () => {
      const child = current()?.child;
      if (child) await stopChild(child, 10_000);
    });
    return {
      name,
      port,
      url,
      get log() {
        return runs.flatMap((run) => run.log);
      },
      running() {
        const child = current()?.child;
        return child !== undefined && child.exitCode === null && child.signalCode === null;
      },
      async kill(signal = 'SIGTERM') {
        await current()?.kill(signal);
      },
      async restart() {
        const child = current()?.child;
        if (child) await stopChild(child, 10_000);
        await start();
      },
      async readiness() {
        try {
          const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) });
          const body = (await response.json()) as { partitions?: number };
          return { ready: response.status === 200, partitions: body.partitions ?? 0 };
        } catch {
          return undefined;
        }
      },
    };
  };

  const port = await freePort();
  const cluster: Cluster = {
    url: `http://127.0.0.1:${port}`,
    instances,
    haproxyLog,

    async addInstance() {
      const instance = await createInstance(++created);
      instances.push(instance);
      const server = `${BACKEND}/${instance.name}`;
      const added = await haproxyCommand(socket, `add server ${server} 127.0.0.1:${instance.port} ${DYNAMIC_SERVER_OPTIONS}`);
      if (!/New server registered/.test(added)) throw new Error(`HAProxy refused the new server: ${added}`);
      // A server leaves maintenance as up until a check fails; mark it down in the same command
      // line, so it gets traffic only after two passed checks (rise 2).
      await haproxyCommand(socket, `enable health ${server}; enable server ${server}; set server ${server} health down`);
      return instance;
    },

    async backends() {
      return Object.fromEntries((await serverStats(socket)).map((row) => [row.svname!, row.status!]));
    },

    async responses2xx() {
      return Object.fromEntries((await serverStats(socket)).map((row) => [row.svname!, Number(row.hrsp_2xx)]));
    },

    stop() {
      stopping ??= (async () => {
        if (haproxy) await stopChild(haproxy, 5000);
        await Promise.all(stoppers.map((stop) => stop()));
        await rm(root, { recursive: true, force: true });
      })();
      return stopping;
    },
  };

  try {
    // One at a time: each start creates or checks the topics and joins the group.
    while (created < options.instances) instances.push(await createInstance(++created));
    const configFile = path.join(root, 'haproxy.cfg');
    await writeFile(configFile, await renderHaproxyConfig({ port, stateDir: root, servers: instances }));
    const child = spawnHaproxy(configFile);
    haproxy = child;
    track(child);
    let partial = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      haproxyLog.push(...lines.filter(Boolean));
    });
    const exited = new Promise<never>((_, reject) => child.once('exit', () => reject(new Error(`HAProxy exited:\n${haproxyLog.join('\n')}`))));
    exited.catch(() => undefined);
    await Promise.race([
      exited,
      waitFor(async () => (await serverStats(socket)).length === instances.length, { what: 'HAProxy admin socket', timeoutMs: 10_000 }),
    ]);
    if (options.waitUp ?? true) {
      await waitFor(async () => Object.values(await cluster.backends()).every((status) => status === 'UP'), {
        what: 'HAProxy reporting every instance UP',
        timeoutMs: 90_000,
        intervalMs: 200,
      });
    }
    return cluster;
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}

/**
 * `deploy/gw cluster [N] [--demo] [--fresh]`: a local broker (unless KAFKA_BROKERS is set), N
 * gateway instances of one group behind HAProxy, and their URLs. Runs until Ctrl-C, then stops
 * what it started. Instance i listens on CLUSTER_PORT+i (4001..400N), keeps its store in
 * .data/cluster-i and joins group GROUP_ID (default `cluster`) with one random PEER_SECRET; HAProxy
 * listens on CLUSTER_PORT (default 4000); its config, pid file and admin socket are in
 * .data/cluster-haproxy. `--fresh` deletes the stores first (needed after switching brokers).
 *
 * `--demo` produces generated data first (DEMO_ORDERS, default 20000; DEMO_CUSTOMERS, 2000) and
 * then live traffic (DEMO_RATE records/s, default 20) that continues what the topics hold, like
 * `deploy/gw demo` (deploy/demo-traffic.ts).
 * Other knobs: KAFKA_PORT, TOPIC_PREFIX, TOPIC_PARTITIONS, LOG_LEVEL (of instances, default warn).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../src/config.ts';
import { createKafkaClient, type KafkaClient, type RecordProducer } from '../src/kafka/client.ts';
import { createLogger } from '../src/log.ts';
import { endOffsetsToken, gatewayQuery, resumeFromGateway, seedDemoData, startLiveTraffic, type DemoData } from './demo-traffic.ts';

export const HAPROXY = process.env.HAPROXY_BIN ?? '/usr/sbin/haproxy';
const TEMPLATE = path.join(REPO_ROOT, 'deploy', 'cluster', 'haproxy.cfg.template');

/** The HAProxy config: deploy/cluster/haproxy.cfg.template with its placeholders filled in. */
export async function renderHaproxyConfig(options: { port: number; stateDir: string; servers: ReadonlyArray<{ name: string; port: number }> }) {
  const servers = options.servers.map((server) => `    server ${server.name} 127.0.0.1:${server.port}`).join('\n');
  return (await readFile(TEMPLATE, 'utf8'))
    .replaceAll('{{PORT}}', String(options.port))
    .replaceAll('{{STATE_DIR}}', options.stateDir)
    .replaceAll('{{SERVERS}}', servers);
}

/** Starts HAProxy in the foreground (master-worker, so it writes its pid file); stderr is piped. */
export function spawnHaproxy(configFile: string): ChildProcess {
  return spawn(HAPROXY, ['-W', '-db', '-f', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
}

const run = promisify(execFile);
const launcher = path.join(REPO_ROOT, 'deploy', 'kafka', 'kafka.sh');
const say = (line: string) => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const answers = (url: string) =>
  fetch(url, { signal: AbortSignal.timeout(1000) }).then(
    (response) => response.ok,
    () => false,
  );

/** Copies a child's stderr to ours, each line prefixed with `[label]`. */
function prefixed(child: ChildProcess, label: string): void {
  let rest = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) process.stderr.write(`[${label}] ${line}\n`);
  });
}

const env = process.env;
const children: ChildProcess[] = [];
let stopping = false;
let startedBroker = false;
let kafka: KafkaClient | undefined;
let live: { stop(): void } | undefined;

/** Stops what this script started: live traffic, instances and HAProxy (SIGTERM, then SIGKILL), the broker. */
async function shutdown(code: number): Promise<never> {
  if (stopping) return new Promise<never>(() => undefined);
  stopping = true;
  live?.stop();
  say('\nstopping...');
  await kafka?.stop();
  await Promise.all(
    children.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      if (!(await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)]))) child.kill('SIGKILL');
    }),
  );
  if (startedBroker) await run('bash', [launcher, 'stop'], { env, timeout: 60_000 }).catch(() => undefined);
  process.exit(code);
}

async function waitAnswers(name: string, url: string, timeoutMs: number): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !(await answers(url)); await sleep(100)) {
    if (Date.now() > deadline || stopping) throw new Error(`${name} did not answer ${url} within ${timeoutMs / 1000} s`);
  }
}

/** Generated history, unless the topics hold orders already (deploy/demo-traffic.ts). */
async function seedDemo(brokers: string): Promise<{ producer: RecordProducer; data: DemoData }> {
  kafka = createKafkaClient({ brokers: brokers.split(','), clientId: 'cluster-demo', logger: createLogger('warn') });
  const producer = await kafka.producer();
  const prefix = env.TOPIC_PREFIX ?? '';
  const existingOrders = (await kafka.offsets(`${prefix}orders`)).reduce((sum, entry) => sum + Number(entry.high), 0);
  const data = await seedDemoData({
    producer,
    prefix,
    existingOrders,
    orders: Number(env.DEMO_ORDERS ?? 20_000),
    customers: Number(env.DEMO_CUSTOMERS ?? 2000),
    say,
  });
  return { producer, data };
}

/** Live traffic that continues what the topics hold, read back through instance `url` once it is ready. */
async function startDemoTraffic(demo: { producer: RecordProducer; data: DemoData }, url: string): Promise<string> {
  const prefix = env.TOPIC_PREFIX ?? '';
  const token = await endOffsetsToken(
    kafka!,
    ['orders', 'customers', 'payments'].map((topic) => `${prefix}${topic}`),
  );
  const from = await resumeFromGateway(demo.data, gatewayQuery(fetch, `${url}/graphql`, token));
  const rate = Number(env.DEMO_RATE ?? 20);
  live = startLiveTraffic({
    producer: demo.producer,
    prefix,
    generator: demo.data.generator,
    rate,
    onError: (error) => process.stderr.write(`live produce failed: ${String(error)}\n`),
  });
  return `${rate} records/s, ${from}`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const count = Number(args.find((arg) => /^\d+$/.test(arg)) ?? 3);
  if (!Number.isInteger(count) || count < 1 || count > 20) throw new Error('the instance count must be 1 to 20');
  const basePort = Number(env.CLUSTER_PORT ?? 4000);
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => void shutdown(0));

  let brokers = env.KAFKA_BROKERS;
  if (!brokers) {
    // Stopped at the end only if this script started it (not one that was already running).
    startedBroker = await run('bash', [launcher, 'status'], { env }).then(
      () => false,
      () => true,
    );
    say(startedBroker ? 'starting a local Kafka broker (deploy/kafka/kafka.sh)...' : 'using the running local Kafka broker');
    const { stdout } = await run('bash', [launcher, 'start'], { env, timeout: 300_000 });
    brokers = /KAFKA_BROKERS=(\S+)/.exec(stdout)?.[1];
    if (!brokers) throw new Error(`the launcher did not report KAFKA_BROKERS:\n${stdout}`);
  }

  const secret = randomBytes(24).toString('hex');
  const instances = Array.from({ length: count }, (_, i) => ({ name: `gw${i + 1}`, port: basePort + i + 1 }));
  const dataDir = (i: number) => path.join(REPO_ROOT, '.data', `cluster-${i + 1}`);
  if (args.includes('--fresh')) for (let i = 0; i < 20; i++) await rm(dataDir(i), { recursive: true, force: true });
  for (const [i, instance] of instances.entries()) {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'src', 'main.ts')], {
      env: {
        ...env,
        KAFKA_BROKERS: brokers,
        HOST: '127.0.0.1',
        PORT: String(instance.port),
        ADVERTISED_URL: `http://127.0.0.1:${instance.port}`,
        DATA_DIR: dataDir(i),
        GROUP_ID: env.GROUP_ID ?? 'cluster',
        PEER_SECRET: secret,
        GROUP_SESSION_TIMEOUT_MS: env.GROUP_SESSION_TIMEOUT_MS ?? '3000',
        LOG_LEVEL: env.LOG_LEVEL ?? 'warn',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(child);
    prefixed(child, instance.name);
    child.on('exit', (code, signal) => stopping || say(`${instance.name} exited (${signal ?? code}); HAProxy routes around it`));
  }

  const stateDir = path.join(REPO_ROOT, '.data', 'cluster-haproxy');
  await mkdir(stateDir, { recursive: true });
  const configFile = path.join(stateDir, 'haproxy.cfg');
  await writeFile(configFile, await renderHaproxyConfig({ port: basePort, stateDir, servers: instances }));
  const haproxy = spawnHaproxy(configFile);
  children.push(haproxy);
  prefixed(haproxy, 'haproxy');
  haproxy.on('exit', (code, signal) => {
    if (stopping) return;
    say(`haproxy exited (${signal ?? code})`);
    void shutdown(1);
  });

  // The instances create missing topics before they listen, so data can be produced after that.
  for (const instance of instances) await waitAnswers(instance.name, `http://127.0.0.1:${instance.port}/healthz`, 120_000);
  const demo = args.includes('--demo') ? await seedDemo(brokers) : undefined;
  say('waiting for every instance to be ready...');
  for (const instance of instances) await waitAnswers(instance.name, `http://127.0.0.1:${instance.port}/readyz`, 300_000);
  const traffic = demo && (await startDemoTraffic(demo, `http://127.0.0.1:${instances[0]!.port}`));

  say('');
  say(`Balancer (HAProxy):  http://127.0.0.1:${basePort}/graphql   (config, pid file, admin socket: ${path.relative(process.cwd(), stateDir)}/)`);
  say(`Grid page:           http://127.0.0.1:${basePort}/grid   (through the balancer; GraphiQL at /graphql)`);
  for (const instance of instances) say(`  ${instance.name}:  http://127.0.0.1:${instance.port}/graphql   (also /readyz, /metrics)`);
  say(
    `Try:  curl -s http://127.0.0.1:${basePort}/graphql -H 'content-type: application/json' -d '{"query":"{ orders(first: 3) { totalCount edges { node { orderId } } } }"}'`,
  );
  if (traffic) say(`Live traffic: ${traffic}.`);
  say(`Ctrl-C stops the instances, HAProxy${startedBroker ? ' and the broker' : ''}.`);
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    process.stderr.write(`cluster failed: ${error instanceof Error ? error.message : String(error)}\n`);
    void shutdown(1);
  });
}

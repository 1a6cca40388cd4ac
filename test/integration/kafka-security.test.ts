/**
 * The gateway against a broker that requires SASL over TLS: the project's launcher starts its own
 * broker here (not the test run's PLAINTEXT one) with a SASL_SSL listener, a CA and a broker
 * certificate made with openssl in a temp dir, and one user with SCRAM-SHA-256, SCRAM-SHA-512 and
 * PLAIN credentials. Gateways start in process (createGateway, as startTestGateway does, with a
 * logger whose lines are kept) or as `node src/main.ts`; records are produced through the same
 * listener with the project's Kafka client.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inspect, promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { GatewayError } from '../../src/errors.ts';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { createKafkaClient, type KafkaClient } from '../../src/kafka/client.ts';
import { createLogger } from '../../src/log.ts';
import { customer, keyed, order } from '../support/data.ts';
import { freePortRun } from '../support/cluster.ts';
import { postGraphQL, uniqueName } from '../support/gateway.ts';
import { onLines } from '../support/process.ts';
import { waitFor } from '../support/wait.ts';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');
const LAUNCHER = path.join(ROOT, 'deploy/kafka/kafka.sh');
const MAIN = path.join(ROOT, 'src/main.ts');

/**
 * The broker of this file: PLAINTEXT (the launcher's health check), controller, SASL_SSL, on
 * three consecutive ports chosen in beforeAll (TEST_KAFKA_SECURE_PORT, else free ports below the
 * kernel's ephemeral range).
 */
let PLAINTEXT_PORT = 0;
let SECURE_BROKER = '';

const USER = 'gateway';
const PASSWORD = randomBytes(12).toString('hex');
const WRONG_PASSWORD = `wrong-${randomBytes(8).toString('hex')}`;

/** Makes a CA, or a certificate signed by one, with openssl. */
async function openssl(args: string[]): Promise<void> {
  await run('openssl', args, { timeout: 60_000 });
}

async function makeCa(dir: string, name: string): Promise<{ cert: string; key: string }> {
  const cert = path.join(dir, `${name}.pem`);
  const key = path.join(dir, `${name}.key`);
  await openssl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { cert, key };
}

async function makeCertificate(
  dir: string,
  name: string,
  ca: { cert: string; key: string },
  extensions: string,
): Promise<{ cert: string; key: string }> {
  const cert = path.join(dir, `${name}.pem`);
  const key = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const ext = path.join(dir, `${name}.ext`);
  await writeFile(ext, extensions);
  await openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${name}`]);
  await openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext]);
  return { cert, key };
}

describe('Kafka with SASL and TLS', () => {
  const prefix = `${uniqueName('ksec')}.`;
  let dir: string;
  let launcherEnv: NodeJS.ProcessEnv;
  let ca: { cert: string; key: string };
  let otherCa: { cert: string; key: string };
  let client: { cert: string; key: string };
  let strangerClient: { cert: string; key: string };
  /** Every log line of every gateway and client of this file, checked for secrets at the end. */
  const logs: string[] = [];
  const cleanups: Array<() => Promise<unknown>> = [];

  const logger = (label: string) => createLogger('debug', { test: label }, { destination: { write: (line: string) => void logs.push(line) } });

  /** Environment of a gateway on the secured listener with the right credentials (SCRAM-SHA-256). */
  const secured = (): Record<string, string> => ({
    KAFKA_BROKERS: SECURE_BROKER,
    KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
    KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256',
    KAFKA_SASL_USERNAME: USER,
    KAFKA_SASL_PASSWORD: PASSWORD,
    KAFKA_TLS_CA_FILE: ca.cert,
  });

  async function startGateway(group: string, env: Record<string, string>): Promise<Gateway> {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'gw-ksec-data-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const config = loadConfig({
      HOST: '127.0.0.1',
      PORT: '0',
      DATA_DIR: dataDir,
      GROUP_ID: `${prefix}${group}`,
      TOPIC_PREFIX: prefix,
      TOPIC_PARTITIONS: '3',
      LOG_LEVEL: 'debug',
      ...env,
    });
    const gateway = await createGateway(config, logger(group));
    cleanups.push(() => gateway.stop());
    await waitFor(() => gateway.readiness().ready, { what: `gateway ${group} ready`, timeoutMs: 60_000 });
    return gateway;
  }

  /** The start failure of a gateway, which must be a GatewayError. */
  async function failedStart(group: string, env: Record<string, string>): Promise<GatewayError> {
    const error = await startGateway(group, env).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(GatewayError);
    return error as GatewayError;
  }

  /** A client of the project's own Kafka module on the secured listener. */
  function kafkaClient(env: Record<string, string>): KafkaClient {
    const config = loadConfig(env);
    const kafka = createKafkaClient({
      brokers: config.kafkaBrokers,
      clientId: 'ksec-tests',
      logger: logger('client'),
      security: config.kafkaSecurity,
    });
    cleanups.push(() => kafka.stop());
    return kafka;
  }

  beforeAll(async () => {
    PLAINTEXT_PORT = process.env.TEST_KAFKA_SECURE_PORT ? Number(process.env.TEST_KAFKA_SECURE_PORT) : await freePortRun(3);
    SECURE_BROKER = `127.0.0.1:${PLAINTEXT_PORT + 2}`;
    dir = await mkdtemp(path.join(os.tmpdir(), 'gw-ksec-'));
    ca = await makeCa(dir, 'test-ca');
    otherCa = await makeCa(dir, 'other-ca');
    const broker = await makeCertificate(dir, 'broker', ca, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
    client = await makeCertificate(dir, 'client', ca, 'extendedKeyUsage=clientAuth\n');
    strangerClient = await makeCertificate(dir, 'stranger', otherCa, 'extendedKeyUsage=clientAuth\n');
    launcherEnv = {
      ...process.env,
      KAFKA_STATE_DIR: path.join(dir, 'kafka'),
      KAFKA_PORT: String(PLAINTEXT_PORT),
      KAFKA_CONTROLLER_PORT: String(PLAINTEXT_PORT + 1),
      KAFKA_SASL_SSL_PORT: String(PLAINTEXT_PORT + 2),
      KAFKA_SSL_CERT_FILE: broker.cert,
      KAFKA_SSL_KEY_FILE: broker.key,
      // A client certificate is optional; one that is sent must be signed by the test CA.
      KAFKA_SSL_CA_FILE: ca.cert,
      KAFKA_SSL_CLIENT_AUTH: 'requested',
      KAFKA_SASL_MECHANISMS: 'SCRAM-SHA-256,SCRAM-SHA-512,PLAIN',
      KAFKA_SASL_USERS: `${USER}:${PASSWORD}`,
      KAFKA_HEAP_OPTS: '-Xmx512m -Xms256m',
      KAFKA_FRESH: '1',
    };
    const { stdout } = await run('bash', [LAUNCHER, 'start'], { env: launcherEnv, timeout: 180_000 });
    expect(stdout).toContain(`KAFKA_BROKERS=127.0.0.1:${PLAINTEXT_PORT}`);
  });

  afterAll(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
    if (launcherEnv) await run('bash', [LAUNCHER, 'stop'], { env: launcherEnv, timeout: 60_000 });
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a gateway with SCRAM-SHA-256 creates its topics, ingests records produced with SCRAM-SHA-512 and answers queries', async () => {
    const gateway = await startGateway('scram', secured());
    const producerClient = kafkaClient({ ...secured(), KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512' });
    // The gateway created its topics on the secured broker.
    const partitions = await producerClient.ensureTopics([{ topic: `${prefix}orders`, partitions: 1, compacted: true }]);
    expect(partitions.get(`${prefix}orders`)).toBe(3);
    const producer = await producerClient.producer();
    await producer.send(`${prefix}customers`, [keyed('customerId', customer(1))]);
    await producer.send(
      `${prefix}orders`,
      [1, 2, 3].map((n) => keyed('orderId', order(n, { customerId: 'cus-00001' }))),
    );

    const query = '{ orders(first: 10, orderBy: { field: ORDER_ID, direction: ASC }) { totalCount edges { node { orderId customer { name } } } } }';
    type Orders = { orders: { totalCount: number; edges: Array<{ node: { orderId: string; customer: { name: string } } }> } };
    const data = await waitFor(
      async () => {
        const { body } = await postGraphQL<Orders>(gateway.url, query);
        const orders = body.data?.orders;
        return orders?.totalCount === 3 && orders.edges.every((edge) => edge.node.customer) ? body.data : undefined;
      },
      { what: 'the produced orders in a query', timeoutMs: 60_000 },
    );
    expect(data!.orders.edges.map((edge) => edge.node)).toEqual(
      ['ord-000001', 'ord-000002', 'ord-000003'].map((orderId) => ({ orderId, customer: { name: customer(1).name } })),
    );

    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(metrics).toContain('gw_ingest_applied_total');
    expect(metrics).not.toContain(PASSWORD);
  });

  it('a gateway with PLAIN, the password from a file, a client certificate and KAFKA_TLS_SERVERNAME reads the same topics', async () => {
    const passwordFile = path.join(dir, 'password');
    await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
    const { KAFKA_SASL_PASSWORD: _password, ...rest } = secured();
    const gateway = await startGateway('plain-mtls', {
      ...rest,
      KAFKA_SASL_MECHANISM: 'PLAIN',
      KAFKA_SASL_PASSWORD_FILE: passwordFile,
      KAFKA_TLS_CERT_FILE: client.cert,
      KAFKA_TLS_KEY_FILE: client.key,
      KAFKA_TLS_SERVERNAME: 'localhost',
    });
    const data = await waitFor(
      async () => {
        const { body } = await postGraphQL<{ orders: { totalCount: number } }>(gateway.url, '{ orders(first: 1) { totalCount } }');
        return body.data?.orders.totalCount === 3 ? body.data : undefined;
      },
      { what: 'the orders read by a second group', timeoutMs: 60_000 },
    );
    expect(data.orders.totalCount).toBe(3);
  });

  it('a wrong password stops the start with GW_KAFKA_AUTH_FAILED naming the settings, without the password', async () => {
    const error = await failedStart('wrong-password', { ...secured(), KAFKA_SASL_PASSWORD: WRONG_PASSWORD });
    expect(error.code).toBe('GW_KAFKA_AUTH_FAILED');
    expect(error.retriable).toBe(false);
    expect(error.message).toContain(`KAFKA_SASL_USERNAME=${USER}`);
    expect(error.message).toContain('KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD');
    const everything = `${error.message}\n${error.stack}\n${inspect(error, { depth: Number.POSITIVE_INFINITY, showHidden: true })}\n${JSON.stringify(error)}`;
    expect(everything).not.toContain(WRONG_PASSWORD);
    expect(everything).not.toContain(PASSWORD);
  });

  it('an unknown user is an authentication failure too', async () => {
    const error = await failedStart('wrong-user', { ...secured(), KAFKA_SASL_USERNAME: 'nobody', KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512' });
    expect(error.code).toBe('GW_KAFKA_AUTH_FAILED');
    expect(error.message).toContain('KAFKA_SASL_USERNAME=nobody');
  });

  it('a CA that did not sign the broker certificate stops the start with GW_KAFKA_TLS_FAILED naming KAFKA_TLS_CA_FILE', async () => {
    const started = Date.now();
    const error = await failedStart('wrong-ca', { ...secured(), KAFKA_TLS_CA_FILE: otherCa.cert });
    expect(error.code).toBe('GW_KAFKA_TLS_FAILED');
    expect(error.message).toContain('KAFKA_TLS_CA_FILE');
    expect(error.message).toContain(SECURE_BROKER);
    // At once, not after the client's connection retries.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(`${error.message}\n${inspect(error, { depth: Number.POSITIVE_INFINITY })}`).not.toContain(PASSWORD);
  });

  it('a server name the broker certificate does not carry is GW_KAFKA_TLS_FAILED naming KAFKA_TLS_SERVERNAME', async () => {
    const error = await failedStart('wrong-name', { ...secured(), KAFKA_TLS_SERVERNAME: 'kafka.example.com' });
    expect(error.code).toBe('GW_KAFKA_TLS_FAILED');
    expect(error.message).toContain('KAFKA_TLS_SERVERNAME');
  });

  it('a client certificate the broker does not trust is GW_KAFKA_TLS_FAILED naming KAFKA_TLS_CERT_FILE', async () => {
    const error = await failedStart('stranger-cert', {
      ...secured(),
      KAFKA_TLS_CERT_FILE: strangerClient.cert,
      KAFKA_TLS_KEY_FILE: strangerClient.key,
    });
    expect(error.code).toBe('GW_KAFKA_TLS_FAILED');
    expect(error.message).toContain('KAFKA_TLS_CERT_FILE');
  });

  it('TLS to the PLAINTEXT listener is GW_KAFKA_TLS_FAILED naming KAFKA_SECURITY_PROTOCOL', async () => {
    const error = await failedStart('plaintext-port', { ...secured(), KAFKA_BROKERS: `127.0.0.1:${PLAINTEXT_PORT}` });
    expect(error.code).toBe('GW_KAFKA_TLS_FAILED');
    expect(error.message).toContain('KAFKA_SECURITY_PROTOCOL');
  });

  it('npm start with a wrong password exits 1 with the coded message and no password', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'gw-ksec-process-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const passwordFile = path.join(dir, 'wrong-password');
    await writeFile(passwordFile, WRONG_PASSWORD, { mode: 0o600 });
    const { KAFKA_SASL_PASSWORD: _password, ...rest } = secured();
    const child = spawn(process.execPath, [MAIN], {
      env: {
        ...process.env,
        ...rest,
        KAFKA_SASL_PASSWORD_FILE: passwordFile,
        HOST: '127.0.0.1',
        PORT: '0',
        DATA_DIR: dataDir,
        GROUP_ID: `${prefix}process`,
        TOPIC_PREFIX: prefix,
        LOG_LEVEL: 'debug',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    onLines(child.stderr!, (line) => lines.push(line));
    onLines(child.stdout!, (line) => lines.push(line));
    const exitCode = await new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    logs.push(...lines);
    expect(exitCode).toBe(1);
    const failure = lines.find((line) => line.startsWith('gateway failed to start'));
    expect(failure, lines.join('\n')).toMatch(
      /^gateway failed to start \(GW_KAFKA_AUTH_FAILED\): the broker refused SASL authentication for KAFKA_SASL_USERNAME=gateway /,
    );
  });

  it('no password and no private key appears in any log line', async () => {
    expect(logs.length).toBeGreaterThan(10);
    const keyBody = (await readFile(client.key, 'utf8')).split('\n')[1]!;
    for (const line of logs) {
      expect(line).not.toContain(PASSWORD);
      expect(line).not.toContain(WRONG_PASSWORD);
      expect(line).not.toContain(keyBody);
    }
    // The failures were logged (so the check above saw them).
    expect(logs.some((line) => line.includes('authentication failed'))).toBe(true);
  });
});

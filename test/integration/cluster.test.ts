/**
 * The load-balanced cluster end to end: real broker, real HAProxy (deploy/cluster/haproxy.cfg.template),
 * gateway instances as real child processes (test/support/cluster.ts).
 *
 * a. Three instances behind HAProxy answer every lookup, grid page and relation exactly like a
 *    single in-process instance (its own group) on the same topics.
 * b. One instance is SIGKILLed under query load: no answer is ever wrong, errors (GW_* codes or
 *    HTTP 502/503 from HAProxy) happen only inside one bounded window, and afterwards every key
 *    answers again.
 * c. One instance scaled to three under query load: the same assertions.
 * The error windows are printed (`[cluster] ...`).
 */
import { isDeepStrictEqual } from 'node:util';
import { beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import type { Cluster, ClusterInstance } from '../support/cluster.ts';
import { customer, iso, keyed, order, payment } from '../support/data.ts';
import { useFixture } from '../support/fixture.ts';
import type { TestGateway } from '../support/gateway.ts';
import { waitFor } from '../support/wait.ts';

const ORDERS = 2000;
const CUSTOMERS = 50;
const PARTITIONS = 6;
/** Partitions an instance holds with `members` members: its share of orders and payments, plus all of customers (replicated). */
const heldBy = (members: number) => 2 * Math.ceil(PARTITIONS / members) + PARTITIONS;
const CLUSTER_ENV = { TOPIC_PARTITIONS: String(PARTITIONS), GROUP_SESSION_TIMEOUT_MS: '2000', READY_MAX_LAG: '0' };
/** Errors a client may see while partitions move: they name the partitions and say "retry". */
const MOVING_CODES = new Set([
  'GW_PARTITION_UNAVAILABLE',
  'GW_PARTITION_RESTORING',
  'GW_PEER_UNREACHABLE',
  'GW_PEER_TIMEOUT',
  'GW_PEER_NOT_OWNER',
  'GW_STORE_UNAVAILABLE',
]);
const MAX_WINDOW_MS = 15_000;
const LOAD_MAX_MS = 25_000;

const ORDER_FIELDS = 'orderId customerId state product quantity unitPrice currency createdAt updatedAt';
const FIELD_NAMES = ORDER_FIELDS.split(' ');
const SORTS = ['CREATED_AT', 'UPDATED_AT', 'ORDER_ID'].flatMap((field) =>
  ['ASC', 'DESC'].map((direction) => `{field: ${field}, direction: ${direction}}`),
);
const FILTERS = [
  '{state: {eq: SHIPPED}}',
  '{state: {in: [CREATED, VALIDATED]}, currency: {eq: "EUR"}}',
  '{customerId: {eq: "cus-00007"}}',
  '{createdAt: {gte: "2026-01-01T05:00:00.000Z", lt: "2026-01-01T09:30:00.000Z"}}',
];

type Data = Record<string, unknown>;
interface Answer {
  status: number;
  data?: Data | null;
  errors?: Array<{ message: string; path?: Array<string | number>; extensions?: { code?: string } }>;
  text: string;
}

async function post(url: string, query: string, variables?: Data, timeoutMs = 15_000): Promise<Answer> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  try {
    const body = JSON.parse(text) as Pick<Answer, 'data' | 'errors'>;
    return { status: response.status, data: body.data, errors: body.errors, text };
  } catch {
    return { status: response.status, text };
  }
}

/** Data of a query that must succeed without errors. */
async function dataOf(url: string, query: string, variables?: Data): Promise<Data> {
  const answer = await post(url, query, variables);
  if (answer.status !== 200 || answer.errors || !answer.data) throw new Error(`query failed (${answer.status}): ${answer.text.slice(0, 500)}`);
  return answer.data;
}

const lookupQuery = (keys: readonly string[]) => `{ ${keys.map((key, i) => `k${i}: order(orderId: "${key}") { ${ORDER_FIELDS} }`).join(' ')} }`;

/** A page query with variables $n and $cursor; `fields` of each node (default: all scalar fields). */
function gridQuery(sort: string, filter: string | undefined, backward: boolean, fields = ORDER_FIELDS): string {
  const window = backward ? 'last: $n, before: $cursor' : 'first: $n, after: $cursor';
  return `query($n: Int!, $cursor: String) { orders(${window}, orderBy: ${sort}${filter ? `, filter: ${filter}` : ''}) {
    totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { ${fields} } } } }`;
}
const WITH_RELATIONS = `${ORDER_FIELDS} customer { customerId name tier } payments { paymentId status amount }`;

interface GridPage {
  orders: { pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null }; edges: unknown[] };
}

/** The reference: what was produced, latest value per key (null for a tombstone). */
function buildData() {
  const customers = Array.from({ length: CUSTOMERS }, (_, i) => customer(i));
  const orderRecords: Array<{ key: string; value: string | null }> = [];
  const latest = new Map<string, Record<string, unknown> | null>();
  for (let n = 1; n <= ORDERS; n++) {
    const row = order(n);
    orderRecords.push(keyed('orderId', row));
    latest.set(row.orderId, row);
  }
  // Second versions (moved sort keys) and tombstones, so "latest value per key" matters.
  for (let n = 10; n <= ORDERS; n += 10) {
    const row = order(n, { state: 'SHIPPED', updatedAt: iso(Date.parse('2026-02-01T00:00:00.000Z') + n * 1000) });
    orderRecords.push(keyed('orderId', row));
    latest.set(row.orderId, row);
  }
  for (let n = 97; n <= ORDERS; n += 97) {
    const key = order(n).orderId;
    orderRecords.push({ key, value: null });
    latest.set(key, null);
  }
  const payments = [];
  for (let n = 1; n <= ORDERS; n++) {
    if (n % 5 !== 0) payments.push(payment(n, 1));
    if (n % 7 === 0) payments.push(payment(n, 2));
  }
  const expected = new Map<string, Data | null>();
  for (const [key, row] of latest) expected.set(key, row && Object.fromEntries(FIELD_NAMES.map((field) => [field, row[field]])));
  return { customers, orderRecords, payments, expected, keys: [...latest.keys()] };
}

// ---------------------------------------------------------------------------------------------
// Load with strict checking of every answer.

interface LoadTask {
  readonly query: string;
  readonly variables?: Data;
  /** Expected `data`; a field that is null must come with an error at its path. */
  readonly expected: Data;
}

interface LoadReport {
  requests: number;
  ok: number;
  /** Acceptable failures (GW_* code or HAProxy 502/503), with their time and first message. */
  errors: Array<{ at: number; kind: string; message: string }>;
  /** Answers that must never happen: wrong or missing rows, unexpected errors, no answer. */
  wrong: string[];
}

type Checked = { kind: 'ok' } | { kind: 'error'; what: string; message: string } | { kind: 'wrong'; what: string };

function check(task: LoadTask, answer: Answer): Checked {
  if (answer.data === undefined && answer.errors === undefined) {
    return [502, 503].includes(answer.status)
      ? { kind: 'error', what: `HTTP ${answer.status}`, message: answer.text.slice(0, 200) }
      : { kind: 'wrong', what: `HTTP ${answer.status} with body ${answer.text.slice(0, 300)}` };
  }
  const errors = answer.errors ?? [];
  const unexpected = errors.filter((error) => !MOVING_CODES.has(error.extensions?.code ?? ''));
  if (unexpected.length > 0) return { kind: 'wrong', what: `unexpected error(s) ${JSON.stringify(unexpected).slice(0, 500)}` };
  const data = answer.data ?? {};
  for (const [field, expected] of Object.entries(task.expected)) {
    const got = data[field];
    if (got === null || got === undefined) {
      if (expected !== null && !errors.some((error) => error.path?.[0] === field || !error.path)) {
        return { kind: 'wrong', what: `${field} is null without an error, expected ${JSON.stringify(expected).slice(0, 200)}` };
      }
      continue;
    }
    if (!isDeepStrictEqual(got, expected)) {
      return { kind: 'wrong', what: `${field}: got ${JSON.stringify(got).slice(0, 400)}, expected ${JSON.stringify(expected).slice(0, 400)}` };
    }
  }
  if (errors.length > 0) {
    return { kind: 'error', what: [...new Set(errors.map((error) => error.extensions!.code))].sort().join('+'), message: errors[0]!.message };
  }
  return { kind: 'ok' };
}

/**
 * Runs `clients` sequential request loops against `url` until `done(report so far)` or `maxMs`
 * (and at most 20,000 requests per client).
 */
async function runLoad(
  url: string,
  tasks: () => LoadTask,
  options: { clients: number; maxMs: number; done: (report: LoadReport) => boolean },
): Promise<LoadReport> {
  const report: LoadReport = { requests: 0, ok: 0, errors: [], wrong: [] };
  const deadline = Date.now() + options.maxMs;
  const client = async () => {
    for (let i = 0; i < 20_000 && Date.now() < deadline && !options.done(report); i++) {
      const task = tasks();
      report.requests++;
      let answer: Answer;
      try {
        answer = await post(url, task.query, task.variables);
      } catch (error) {
        report.wrong.push(`no answer at ${new Date().toISOString()}: ${String(error)}`);
        continue;
      }
      const result = check(task, answer);
      if (result.kind === 'ok') report.ok++;
      else if (result.kind === 'error') report.errors.push({ at: Date.now(), kind: result.what, message: result.message });
      else report.wrong.push(`${new Date().toISOString()} ${result.what}`);
      // A short pause leaves the 2 cores some room for the instances that restore partitions.
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  };
  await Promise.all(Array.from({ length: options.clients }, client));
  return report;
}

/** HAProxy's server state changes since line `from` of its log, shortened. */
function stateChanges(target: Cluster, from: number): string[] {
  return target.haproxyLog
    .slice(from)
    .filter((line) => /Server gateways\/\S+ is/.test(line))
    .map((line) => line.replace(/^.*Server gateways\//, '').replace(/(, check duration| \d+ active and).*$/, ''));
}

function describeWindow(label: string, report: LoadReport, eventAt: number): number {
  const times = report.errors.map((error) => error.at);
  const window = times.length === 0 ? 0 : Math.max(...times) - Math.min(...times);
  const kinds: Record<string, number> = {};
  for (const error of report.errors) kinds[error.kind] = (kinds[error.kind] ?? 0) + 1;
  const span =
    times.length === 0 ? 'no errors' : `errors from +${Math.min(...times) - eventAt} ms to +${Math.max(...times) - eventAt} ms after the event`;
  // Messages without the per-run topic prefix, so equal causes group together.
  const messages = [...new Set(report.errors.map((error) => error.message.replace(/\S*\.(orders|payments|customers)/g, '$1')))];
  console.log(
    `[cluster] ${label}: error window ${window} ms; ${report.errors.length} errors of ${report.requests} requests (${span}); ` +
      `${JSON.stringify(kinds)}; ${report.wrong.length} wrong answers` +
      (messages.length > 0 ? `; messages: ${JSON.stringify(messages.slice(0, 5))}` : ''),
  );
  return window;
}

describe('a load-balanced cluster behind HAProxy', () => {
  const data = buildData();
  const fx = useFixture('cluster');
  let single: TestGateway;
  let cluster: Cluster | undefined;
  let scaled: Cluster | undefined;
  /** Grid pages with the single instance's answer, for the load phases. */
  let gridTasks: LoadTask[] = [];

  const lookupTask = (count: number): LoadTask => {
    const keys = Array.from({ length: count }, () => data.keys[Math.floor(Math.random() * data.keys.length)]!);
    return { query: lookupQuery(keys), expected: Object.fromEntries(keys.map((key, i) => [`k${i}`, data.expected.get(key) ?? null])) };
  };
  const mixedTask = () =>
    Math.random() < 0.7 ? lookupTask(1 + Math.floor(Math.random() * 3)) : gridTasks[Math.floor(Math.random() * gridTasks.length)]!;

  /** All keys through `url`, 50 per request; returns the mismatches. */
  const checkAllKeys = async (url: string): Promise<string[]> => {
    const problems: string[] = [];
    for (let start = 0; start < data.keys.length; start += 50) {
      const keys = data.keys.slice(start, start + 50);
      const answer = await post(url, lookupQuery(keys));
      if (answer.errors || !answer.data) {
        problems.push(`keys ${keys[0]}..: ${answer.status} ${answer.text.slice(0, 300)}`);
        continue;
      }
      keys.forEach((key, i) => {
        if (!isDeepStrictEqual(answer.data![`k${i}`], data.expected.get(key))) problems.push(`${key}: got ${JSON.stringify(answer.data![`k${i}`])}`);
      });
    }
    return problems;
  };

  /** Until every running instance is ready and holds its share, and HAProxy routes to exactly them. */
  const waitSettled = async (target: Cluster, running: readonly ClusterInstance[], what: string) => {
    await waitFor(
      async () => {
        const states = await Promise.all(running.map((instance) => instance.readiness()));
        if (!states.every((state) => state?.ready && state.partitions === heldBy(running.length))) return false;
        const backends = await target.backends();
        return target.instances.every((instance) => (backends[instance.name] === 'UP') === running.includes(instance));
      },
      { what, timeoutMs: 60_000, intervalMs: 200 },
    );
  };

  beforeAll(async () => {
    // The reference instance answers over real HTTP, like the balancer it is compared with.
    single = await fx.startGateway({ group: 'single', env: CLUSTER_ENV });
    await fx.produce(
      'customers',
      data.customers.map((row) => keyed('customerId', row)),
    );
    await fx.produce('orders', data.orderRecords);
    await fx.produce(
      'payments',
      data.payments.map((row) => keyed('paymentId', row)),
    );
    await fx.waitCaughtUp(single, ['customers', 'orders', 'payments']);

    // Grid pages for the load phases, answered by the single instance (the data does not change).
    const first = (await dataOf(single.url, gridQuery(SORTS[0]!, undefined, false), { n: 30, cursor: null })) as unknown as GridPage;
    const loadGrids: Array<{ query: string; variables: Data }> = [
      { query: gridQuery(SORTS[1]!, undefined, false, WITH_RELATIONS), variables: { n: 20, cursor: null } },
      { query: gridQuery(SORTS[0]!, undefined, false), variables: { n: 30, cursor: first.orders.pageInfo.endCursor } },
      { query: gridQuery(SORTS[2]!, FILTERS[0], false), variables: { n: 25, cursor: null } },
      { query: gridQuery(SORTS[3]!, FILTERS[1], true, WITH_RELATIONS), variables: { n: 15, cursor: null } },
      { query: gridQuery(SORTS[4]!, FILTERS[2], false), variables: { n: 10, cursor: null } },
      { query: gridQuery(SORTS[5]!, FILTERS[3], true), variables: { n: 40, cursor: null } },
    ];
    gridTasks = [];
    for (const grid of loadGrids) gridTasks.push({ ...grid, expected: await dataOf(single.url, grid.query, grid.variables) });
  });

  /** On failure: HAProxy's log and each instance's assignments, warnings and errors. */
  const dumpLogsOnFailure = (target: () => Cluster | undefined) =>
    onTestFailed(() => {
      const cluster = target();
      if (!cluster) return;
      console.log(`--- haproxy\n${cluster.haproxyLog.slice(-40).join('\n')}`);
      for (const instance of cluster.instances) {
        const lines = instance.log.filter((line) => /"level":"(warn|error)"|partitions assigned|gateway started/.test(line));
        console.log(`--- ${instance.name} ${instance.url}\n${lines.slice(-40).join('\n')}`);
      }
    });

  it('three instances behind HAProxy answer every lookup, grid page and relation like one instance', async () => {
    dumpLogsOnFailure(() => cluster);
    const t0 = Date.now();
    const phase = (name: string) => console.log(`[cluster] three instances: ${name} at +${Date.now() - t0} ms`);
    // Used by the next test too: closed after the file's last test.
    cluster = await fx.startCluster({ instances: 3, env: CLUSTER_ENV, scope: 'file' });
    phase('started');
    await waitSettled(cluster, cluster.instances, 'three ready instances holding two partitions of each topic');
    const via = cluster.url;
    // Every instance's partition map is complete once each answers counts over all partitions.
    for (const instance of cluster.instances) {
      await waitFor(async () => !(await post(instance.url, '{ orders { totalCount } payments { totalCount } customers { totalCount } }')).errors, {
        what: `${instance.name} routing every partition`,
        timeoutMs: 20_000,
      });
    }

    phase('settled');
    // The single instance equals the reference on every key, and the balancer equals the single instance.
    expect(await checkAllKeys(single.url)).toEqual([]);
    for (let start = 0; start < data.keys.length; start += 50) {
      const query = lookupQuery(data.keys.slice(start, start + 50));
      expect(await dataOf(via, query)).toEqual(await dataOf(single.url, query));
    }

    phase('lookups');
    // Every ordering in both directions: all rows page by page to the end, then the first pages
    // of each filter. Consecutive pages go to different instances (round robin), so cursors
    // issued by one instance are used on another.
    let pages = 0;
    const comparePages = async (query: string, pageSize: number, maxPages: number, backward: boolean, what: string) => {
      let cursor: string | null = null;
      for (let page = 0; page < maxPages; page++) {
        const expected = (await dataOf(single.url, query, { n: pageSize, cursor })) as unknown as GridPage;
        expect(await dataOf(via, query, { n: pageSize, cursor }), `${what} page ${page}`).toEqual(expected);
        pages++;
        const info = expected.orders.pageInfo;
        if (!(backward ? info.hasPreviousPage : info.hasNextPage)) return;
        cursor = backward ? info.startCursor : info.endCursor;
      }
    };
    for (const sort of SORTS) {
      for (const backward of [false, true]) {
        const direction = backward ? 'backward' : 'forward';
        await comparePages(gridQuery(sort, undefined, backward, 'orderId createdAt updatedAt'), 500, 10, backward, `${sort} ${direction}`);
        for (const [i, filter] of FILTERS.entries()) {
          const fields = i === 0 ? WITH_RELATIONS : ORDER_FIELDS;
          await comparePages(gridQuery(sort, filter, backward, fields), 40, 2, backward, `${sort} ${filter} ${direction}`);
        }
      }
    }
    expect(pages).toBeGreaterThan(100);
    phase(`${pages} pages`);

    // Relations both ways, payments and customers grids; each query three times, once per instance.
    const sample = Array.from({ length: 40 }, (_, i) => 1 + i * 49);
    const relationQueries = [
      `{ ${sample.map((n, i) => `o${i}: order(orderId: "${order(n).orderId}") { orderId customer { customerId name tier country } payments { paymentId status amount method order { orderId state } } }`).join(' ')} }`,
      `{ ${sample.map((n, i) => `p${i}: payment(paymentId: "${payment(n, 1).paymentId}") { paymentId amount order { orderId state customer { name } payments { paymentId } } }`).join(' ')} }`,
      `{ ${Array.from({ length: 20 }, (_, i) => `c${i}: customer(customerId: "${customer(i * 2 + 1).customerId}") { name orders(first: 7, orderBy: {field: UPDATED_AT, direction: DESC}, filter: {state: {in: [SHIPPED, CANCELLED]}}) { totalCount pageInfo { hasNextPage endCursor } edges { node { orderId state payments { paymentId } } } } }`).join(' ')} }`,
      '{ payments(first: 60, orderBy: {field: CREATED_AT, direction: DESC}, filter: {status: {eq: CAPTURED}}) { totalCount pageInfo { hasNextPage } edges { node { paymentId amount order { orderId customer { tier } } } } } }',
      '{ payments(last: 45, filter: {orderId: {in: ["ord-000070", "ord-000140", "ord-000007", "ord-000005"]}}) { totalCount edges { node { paymentId status } } } }',
      '{ customers(first: 20, orderBy: {field: NAME, direction: DESC}) { totalCount edges { node { customerId name orders(first: 3, orderBy: {field: CREATED_AT}) { totalCount edges { node { orderId } } } } } } }',
      '{ orders(first: 5) { totalCount } shipped: orders(filter: {state: {eq: SHIPPED}}) { totalCount } eur: orders(filter: {currency: {eq: "EUR"}, state: {eq: CREATED}}) { totalCount } }',
    ];
    for (const query of relationQueries) {
      const expected = await dataOf(single.url, query);
      for (let round = 0; round < 3; round++) expect(await dataOf(via, query)).toEqual(expected);
    }

    // Round robin really spread the work: every instance answered a share.
    const answered = await cluster.responses2xx();
    for (const instance of cluster.instances) expect(answered[instance.name]).toBeGreaterThan(pages / 6);
  }, 120_000);

  it('SIGKILL of one instance under load: never a wrong answer, errors only in one bounded window, then every key answers', async () => {
    expect(cluster, 'the three-instance cluster of the first test').toBeDefined();
    dumpLogsOnFailure(() => cluster);
    const target = cluster!;
    const victim = target.instances[1]!;
    const survivors = target.instances.filter((instance) => instance !== victim);
    let settledAt = 0;
    const load = runLoad(target.url, mixedTask, {
      clients: 2,
      maxMs: LOAD_MAX_MS,
      // Until the group has settled and then 3 s passed without an error.
      done: (report) => settledAt > 0 && Date.now() - Math.max(settledAt, report.errors.at(-1)?.at ?? 0) > 3000,
    });
    const logFrom = target.haproxyLog.length;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const killedAt = Date.now();
    await victim.kill('SIGKILL');
    const settled = await waitSettled(target, survivors, 'two instances holding every partition, HAProxy routing to them only').then(
      () => true,
      (error: unknown) => {
        console.log(`[cluster] SIGKILL: ${String(error)}`);
        return false;
      },
    );
    settledAt = Date.now();
    console.log(`[cluster] SIGKILL: group settled ${settledAt - killedAt} ms after the kill`);
    const result = await load;
    const window = describeWindow('SIGKILL of one of three instances', result, killedAt);
    console.log(`[cluster] SIGKILL: HAProxy saw ${JSON.stringify(stateChanges(target, logFrom))}`);
    expect(result.wrong.slice(0, 10), 'wrong answers').toEqual([]);
    expect(
      result.errors.filter((error) => error.at < killedAt),
      'errors before the kill',
    ).toEqual([]);
    expect(result.ok).toBeGreaterThan(50);
    expect(window).toBeLessThan(MAX_WINDOW_MS);
    expect(settled, 'survivors settled').toBe(true);

    // Afterwards every key answers again, through the balancer.
    expect(await checkAllKeys(target.url)).toEqual([]);

    // The killed instance restarts on its port and data dir and takes its share again.
    await victim.restart();
    await waitSettled(target, target.instances, 'the restarted instance back in the group and in HAProxy');
    expect(await checkAllKeys(target.url)).toEqual([]);
  }, 90_000);

  it('scaling one instance to three under load: never a wrong answer, errors only in one bounded window', async () => {
    await cluster?.stop();
    dumpLogsOnFailure(() => scaled);
    scaled = await fx.startCluster({ instances: 1, group: 'scale', env: CLUSTER_ENV });
    const target = scaled;
    await waitSettled(target, target.instances, 'one ready instance holding every partition');
    let settledAt = 0;
    const load = runLoad(target.url, mixedTask, {
      clients: 2,
      maxMs: LOAD_MAX_MS,
      done: (report) => settledAt > 0 && Date.now() - Math.max(settledAt, report.errors.at(-1)?.at ?? 0) > 3000,
    });
    const logFrom = target.haproxyLog.length;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const addedAt = Date.now();
    await Promise.all([target.addInstance(), target.addInstance()]);
    const settled = await waitSettled(target, target.instances, 'three ready instances holding two partitions each, all UP in HAProxy').then(
      () => true,
      (error: unknown) => {
        console.log(`[cluster] scale: ${String(error)}`);
        return false;
      },
    );
    settledAt = Date.now();
    console.log(`[cluster] scale 1 -> 3: group settled ${settledAt - addedAt} ms after the new instances were started`);
    const result = await load;
    const window = describeWindow('scale from one to three instances', result, addedAt);
    console.log(`[cluster] scale: HAProxy saw ${JSON.stringify(stateChanges(target, logFrom))}`);
    expect(result.wrong.slice(0, 10), 'wrong answers').toEqual([]);
    expect(
      result.errors.filter((error) => error.at < addedAt),
      'errors before scaling',
    ).toEqual([]);
    expect(result.ok).toBeGreaterThan(50);
    expect(window).toBeLessThan(MAX_WINDOW_MS);
    expect(settled, 'three instances settled').toBe(true);
    const answered = await target.responses2xx();
    for (const instance of target.instances) expect(answered[instance.name], `${instance.name} got traffic`).toBeGreaterThan(0);
    expect(await checkAllKeys(target.url)).toEqual([]);
  }, 120_000);
});

/**
 * The measured phases against running servers: lookups and grid pages. Each figure is a contest
 * of two or three servers (gateway, stock yoga, PostGraphile) run round by round in turn, so a
 * burst of other work on the machine hits them alike. Every request type is checked once before
 * it is measured, and the servers' answers are compared with each other.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  measureOnce,
  summarizeRuns,
  warmUp,
  writeGridScript,
  writeLookupScript,
  writeNewDocumentScript,
  type IdSource,
  type LoadOptions,
  type LoadResult,
  type LoadSummary,
} from './http-load.ts';
import {
  canonical,
  compareGrids,
  GATEWAY_LOOKUP,
  gridVariants,
  POSTGRAPHILE_LOOKUP,
  verifyGrid,
  verifyLookups,
  type GridCheck,
  type LookupDialect,
} from './queries.ts';
import { startOrderUpdates } from './order-updates.ts';
import { memoryOf, startBaseline, startFloor, type ServerProcess } from './servers.ts';
import { TOPIC_PREFIX, type BenchSettings } from './settings.ts';

export const step = (text: string): void => {
  process.stderr.write(`bench: ${text}\n`);
};

/** `floor` and `floor2`: the least a Node server does per lookup, on one and on two threads (http-floor.ts). */
export type ServerName = 'gateway' | 'yoga' | 'postgraphile' | 'floor' | 'floor2';

/** One figure: a summary per server that took part, rounds in the same order for each. */
export type Contest = Partial<Record<ServerName, LoadSummary>>;

interface Entrant {
  readonly name: ServerName;
  readonly server: ServerProcess;
  readonly script: string;
}

/**
 * Warm-up for each entrant, then `rounds` rounds, each measuring every entrant once in turn, each
 * run once the server is idle (`waitForIdle`; a server that ingests a stream never is).
 */
async function contest(
  settings: BenchSettings,
  label: string,
  entrants: readonly Entrant[],
  clients: { readonly threads: number; readonly connections: number },
  waitForIdle = true,
): Promise<Contest> {
  const load = (entrant: Entrant): LoadOptions => ({
    url: entrant.server.url,
    script: entrant.script,
    ...clients,
    durationSeconds: settings.durationSeconds,
  });
  for (const entrant of entrants) await warmUp(entrant.server, load(entrant), settings.warmupSeconds, waitForIdle);
  const runs = new Map<ServerName, LoadResult[]>(entrants.map((entrant) => [entrant.name, []]));
  for (let round = 1; round <= settings.rounds; round++) {
    step(`      ${label}, round ${round}/${settings.rounds}: ${entrants.map((entrant) => entrant.name).join(', then ')}`);
    for (const entrant of entrants) runs.get(entrant.name)!.push(await measureOnce(entrant.server, load(entrant), waitForIdle));
  }
  return Object.fromEntries([...runs].map(([name, list]) => [name, summarizeRuns(list)]));
}

/** The PostgreSQL side, when the bench runs it (BENCH_POSTGRES). */
export interface PostgresSide {
  readonly server: ServerProcess;
  /** Every order, one JSON object per line, as the gateway answers `order(orderId)` (for the yoga baseline). */
  readonly ordersFile: string;
  /** Every order id, one per line. */
  readonly idsFile: string;
  readonly orders: number;
}

export interface LookupFigures {
  /** Variables, ids from the hot set (`lookupIds`, 10,000). */
  readonly hot: Contest;
  /** Variables, ids from every order (only with PostgreSQL, which exports them). */
  readonly whole: Contest | undefined;
  /** Id written into the query text: a new document per request. */
  readonly documents: Contest;
  readonly hotIds: number;
  readonly wholeIds: number;
  /** Orders in the yoga baseline's Map, its load time (spawn to URL) and RSS after the runs. */
  readonly yogaOrders: number;
  readonly yogaStartMs: number;
  readonly yogaRssBytes: number;
}

export async function compareLookups(
  settings: BenchSettings,
  gateway: ServerProcess,
  work: string,
  sample: { readonly orders: readonly Record<string, unknown>[]; readonly lookupIds: readonly string[] },
  pg: PostgresSide | undefined,
): Promise<LookupFigures> {
  let ordersFile = pg?.ordersFile;
  if (!ordersFile) {
    ordersFile = path.join(work, 'baseline-orders.ndjson');
    writeFileSync(ordersFile, sample.orders.map((order) => `${JSON.stringify(order)}\n`).join(''));
  }
  const yoga = await startBaseline(ordersFile, path.join(work, 'baseline.log'));
  try {
    const yogaStartMs = yoga.upMs;
    // The hot ids, plus 20 drawn from the whole set: every server must give the same answers.
    const wholeIds = pg ? readFileSync(pg.idsFile, 'utf8').trimEnd().split('\n') : [];
    const checkIds = [...sample.lookupIds.slice(0, 20), ...wholeIds.filter((_, i) => i % Math.max(1, Math.floor(wholeIds.length / 20)) === 0)];
    const expected = await verifyLookups('gateway', gateway.url, checkIds);
    /** Throws unless `name` answers every check id as the gateway does. */
    const agrees = async (name: string, server: ServerProcess, dialect: LookupDialect, variablesOnly = false): Promise<void> => {
      const answers = await verifyLookups(name, server.url, checkIds, dialect, variablesOnly);
      answers.forEach((order, i) => {
        if (canonical(order) !== canonical(expected[i])) {
          throw new Error(`gateway and ${name} disagree on ${checkIds[i]}: ${canonical(expected[i])} vs ${canonical(order)}`);
        }
      });
    };
    await agrees('yoga', yoga, GATEWAY_LOOKUP);
    if (pg) await agrees('postgraphile', pg.server, POSTGRAPHILE_LOOKUP);
    const script = (name: string, write: (file: string) => void): string => {
      const file = path.join(work, `${name}.lua`);
      write(file);
      return file;
    };
    const concurrent = { threads: settings.threads, connections: settings.connections };
    const entrants = (make: (dialect: LookupDialect, tag: string) => string): Entrant[] => {
      const gatewayScript = make(GATEWAY_LOOKUP, 'gateway');
      const list: Entrant[] = [
        { name: 'gateway', server: gateway, script: gatewayScript },
        { name: 'yoga', server: yoga, script: gatewayScript },
      ];
      if (pg) list.push({ name: 'postgraphile', server: pg.server, script: make(POSTGRAPHILE_LOOKUP, 'postgraphile') });
      return list;
    };
    /**
     * Every id, with the floor on one and on two threads beside the others: what Node's HTTP
     * leaves for the rest of a lookup on this machine.
     */
    const compareWhole = async (source: IdSource): Promise<Contest> => {
      const floors: Array<[ServerName, ServerProcess]> = [];
      try {
        for (const [name, threads] of [
          ['floor', 1],
          ['floor2', 2],
        ] as const) {
          const server = await startFloor(ordersFile, threads, path.join(work, `${name}.log`));
          floors.push([name, server]);
          await agrees(name, server, GATEWAY_LOOKUP, true);
        }
        const list = entrants((dialect, tag) => script(`lookup-all-${tag}`, (file) => writeLookupScript(file, source, dialect)));
        const gatewayScript = list[0]!.script;
        for (const [name, server] of floors) list.push({ name, server, script: gatewayScript });
        return await contest(settings, `lookups, all ${wholeIds.length} ids`, list, concurrent);
      } finally {
        for (const [, server] of floors) await server.stop();
      }
    };
    const hotSource: IdSource = { ids: sample.lookupIds };
    const wholeSource: IdSource | undefined = pg ? { file: pg.idsFile } : undefined;
    const hot = await contest(
      settings,
      `lookups, ${sample.lookupIds.length} hot ids`,
      entrants((dialect, tag) => script(`lookup-hot-${tag}`, (file) => writeLookupScript(file, hotSource, dialect))),
      concurrent,
    );
    const whole = wholeSource ? await compareWhole(wholeSource) : undefined;
    const documents = await contest(
      settings,
      'lookups, id in the query text',
      entrants((dialect, tag) => script(`lookup-documents-${tag}`, (file) => writeNewDocumentScript(file, wholeSource ?? hotSource, dialect))),
      concurrent,
    );
    return {
      hot,
      whole,
      documents,
      hotIds: sample.lookupIds.length,
      wholeIds: wholeIds.length,
      yogaOrders: pg?.orders ?? sample.orders.length,
      yogaStartMs,
      yogaRssBytes: memoryOf(yoga.pid).rss,
    };
  } finally {
    await yoga.stop();
  }
}

export type GridVariantCheck = Omit<GridCheck, 'rows'> & { readonly server: ServerName };

export interface GridFigures {
  /** With totalCount: 1 client (gateway and PostGraphile), 32 clients (gateway). */
  readonly countedSingle: Contest;
  readonly countedConcurrent: Contest;
  /**
   * Without totalCount: 1 client and 32 clients, gateway and PostGraphile. These and the above
   * send `Cache-Control: no-cache`: the gateway reads every page from its store.
   */
  readonly plainSingle: Contest;
  readonly plainConcurrent: Contest;
  /** The same pages without `no-cache`: the gateway answers repeats from its response cache. */
  readonly keptSingle: Contest;
  readonly keptConcurrent: Contest;
  readonly variants: GridVariantCheck[];
}

/**
 * Single client first, warmed up with a single client: pages queued by 32 clients can take long
 * to drain, so the concurrent rounds go last and each waits for the previous one's leftovers.
 */
export async function measureGrid(
  settings: BenchSettings,
  gateway: ServerProcess,
  work: string,
  postgraphile: ServerProcess | undefined,
): Promise<GridFigures> {
  const servers: Array<[ServerName, ServerProcess, 'gateway' | 'postgraphile']> = [['gateway', gateway, 'gateway']];
  if (postgraphile) servers.push(['postgraphile', postgraphile, 'postgraphile']);
  const checks = new Map<ServerName, { counted: GridCheck[]; plain: GridCheck[] }>();
  const scripts = new Map<string, string>();
  for (const [name, server, dialect] of servers) {
    const counted = await verifyGrid(server.url, gridVariants(dialect, true));
    const plain = await verifyGrid(
      server.url,
      gridVariants(dialect, false),
      counted.map((check) => check.totalCount),
    );
    // Without totalCount the page must be the same rows as with it.
    compareGrids(
      counted.map((check) => ({ ...check, totalCount: -1 })),
      plain,
      [`${name} with totalCount`, `${name} without`],
    );
    checks.set(name, { counted, plain });
    for (const totalCount of [true, false]) {
      const file = path.join(work, `grid-${name}-${totalCount ? 'counted' : 'plain'}.lua`);
      writeGridScript(file, gridVariants(dialect, totalCount), { fresh: true });
      scripts.set(`${name}-${totalCount}`, file);
    }
    const kept = path.join(work, `grid-${name}-kept.lua`);
    writeGridScript(kept, gridVariants(dialect, false));
    scripts.set(`${name}-kept`, kept);
  }
  if (postgraphile) {
    const gw = checks.get('gateway')!;
    const pg = checks.get('postgraphile')!;
    compareGrids(gw.counted, pg.counted, ['gateway', 'postgraphile']);
    compareGrids(gw.plain, pg.plain, ['gateway', 'postgraphile']);
  }
  const entrants = (totalCount: boolean | 'kept', only?: ServerName): Entrant[] =>
    servers
      .filter(([name]) => only === undefined || name === only)
      .map(([name, server]) => ({ name, server, script: scripts.get(`${name}-${totalCount}`)! }));
  const single = { threads: 1, connections: 1 };
  const concurrent = { threads: settings.threads, connections: settings.connections };
  const countedSingle = await contest(settings, 'grid with totalCount, 1 client', entrants(true), single);
  const plainSingle = await contest(settings, 'grid without totalCount, 1 client', entrants(false), single);
  const plainConcurrent = await contest(settings, `grid without totalCount, ${settings.connections} clients`, entrants(false), concurrent);
  const countedConcurrent = await contest(settings, `grid with totalCount, ${settings.connections} clients`, entrants(true, 'gateway'), concurrent);
  const keptSingle = await contest(settings, 'grid without totalCount, 1 client, response cache', entrants('kept'), single);
  const keptConcurrent = await contest(
    settings,
    `grid without totalCount, ${settings.connections} clients, response cache`,
    entrants('kept'),
    concurrent,
  );
  const variants = [...checks].flatMap(([server, { counted, plain }]) =>
    [...counted, ...plain].map(({ rows: _rows, ...check }) => ({ ...check, server })),
  );
  return { countedSingle, countedConcurrent, plainSingle, plainConcurrent, keptSingle, keptConcurrent, variants };
}

/** Grid pages read fresh while order updates arrive: the gateway alone, 1 client and concurrent. */
export interface LiveGridFigures {
  /** Order updates per second written. */
  readonly rate: number;
  /** Updates written in all, from the first warm-up to the last round. */
  readonly sent: number;
  readonly single: Contest;
  readonly concurrent: Contest;
}

/**
 * The grid rotation without totalCount, read fresh, while `settings.liveUpdates` order updates a
 * second reach the topic (./order-updates.ts): what a live grid costs while its data changes,
 * against the same pages with nothing arriving (`GridFigures.plainSingle`, `plainConcurrent`).
 * Run after everything else that is measured: the updates change the data the other figures and
 * their checks compare.
 */
export async function measureGridUnderUpdates(
  settings: BenchSettings,
  gateway: ServerProcess,
  work: string,
  brokers: string,
): Promise<LiveGridFigures> {
  const script = path.join(work, 'grid-gateway-live.lua');
  writeGridScript(script, gridVariants('gateway', false), { fresh: true });
  const entrants: Entrant[] = [{ name: 'gateway', server: gateway, script }];
  const updates = startOrderUpdates({
    brokers,
    topic: `${TOPIC_PREFIX}orders`,
    rate: settings.liveUpdates,
    orders: settings.orders,
    customers: settings.customers,
  });
  try {
    const label = (clients: string) => `grid without totalCount, ${clients}, ${settings.liveUpdates} order updates/s arriving`;
    const single = await contest(settings, label('1 client'), entrants, { threads: 1, connections: 1 }, false);
    const concurrent = await contest(
      settings,
      label(`${settings.connections} clients`),
      entrants,
      { threads: settings.threads, connections: settings.connections },
      false,
    );
    return { rate: settings.liveUpdates, sent: updates.sent, single, concurrent };
  } finally {
    await updates.stop();
  }
}

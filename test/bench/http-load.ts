/**
 * HTTP load with wrk. The Lua scripts are generated per run: the lookup script embeds the order
 * ids and POSTs one at random per request; the grid script rotates through the grid variants.
 * Both count responses that are not HTTP 200 or carry "errors", and report wrk's own latency
 * percentiles (microseconds) as one JSON line from `done`, so nothing is parsed from wrk's
 * human-readable output. A run is bounded by wrk's -d and a kill timer.
 */
import { writeFileSync } from 'node:fs';
import { exited, spawnTracked } from './cleanup.ts';
import { GATEWAY_LOOKUP, GRID_VARIANTS, gridBody, type GridVariant, type LookupDialect } from './queries.ts';
import { waitIdle, type ServerProcess } from './servers.ts';

/** Requests slower than this count as failed (wrk leaves them out of its latency histogram). */
export const REQUEST_TIMEOUT_SECONDS = 30;

export interface LoadOptions {
  readonly url: string;
  readonly script: string;
  readonly threads: number;
  readonly connections: number;
  readonly durationSeconds: number;
}

export interface LoadResult {
  readonly threads: number;
  readonly connections: number;
  readonly durationSeconds: number;
  readonly requests: number;
  readonly qps: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
  /** Responses that were not 200 or contained "errors", plus socket errors and timeouts. */
  readonly failed: number;
  /** Milliseconds the server needed to become idle before the measured run started (work left by the previous one). */
  readonly idleWaitMs?: number;
  /** Answers the gateway sent from its response cache during the run (`gw_response_cache_total`); undefined for other servers. */
  readonly cacheHits?: number;
  /** Queries the gateway's read workers answered during the run (`gw_read_worker_tasks_total`); undefined for other servers. */
  readonly workerAnswers?: number;
}

const luaString = (text: string): string => `"${text.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n')}"`;

/**
 * Shared tail: thread ids, response check, JSON summary. A response is bad if it is not a 200 or
 * contains "errors" or one of `badMarkers` (e.g. a lookup that found nothing).
 */
const common = (badMarkers: readonly string[]): string => `
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"

local threads = {}
local next_id = 0
function setup(thread)
  next_id = next_id + 1
  thread:set("tid", next_id)
  table.insert(threads, thread)
end

bad = 0
function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true)${badMarkers.map((marker) => ` or string.find(body, ${luaString(marker)}, 1, true)`).join('')} then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local failed = 0
  for _, t in ipairs(threads) do failed = failed + (t:get("bad") or 0) end
  local e = summary.errors
  failed = failed + e.connect + e.read + e.write + e.timeout
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"p50_us":%.1f,"p90_us":%.1f,"p99_us":%.1f,"max_us":%.1f,"mean_us":%.1f,"failed":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, failed))
end
`;

/**
 * Where a lookup script takes its order ids from: embedded in the script (a few thousand), or
 * read from a file of one id per line when each wrk thread starts (the whole data set).
 */
export type IdSource = { readonly ids: readonly string[] } | { readonly file: string };

/**
 * Defines `random_id()`. The ids of a file are packed into one string of fixed-width slots, not
 * kept as a Lua table: LuaJIT's collector walks a table of a million strings on each of its
 * cycles, and while it does, the wrk thread reads no responses. With the table, the lookups
 * over every order showed a p99 of 60 to 90 ms and a maximum near 200 ms that were the load
 * generator's pauses (the same gateway: 4.3 ms and 10 ms with the packed ids).
 */
const idsLua = (source: IdSource): string =>
  'ids' in source
    ? `local ids = {\n${source.ids.map((id) => `  ${luaString(id)},`).join('\n')}\n}
local n = #ids
local function random_id() return ids[math.random(n)] end`
    : `local slots, width = {}, 0
for line in io.lines(${luaString(source.file)}) do
  slots[#slots + 1] = line
  if #line > width then width = #line end
end
local n = #slots
for i = 1, n do slots[i] = slots[i] .. string.rep(" ", width - #slots[i]) end
local packed = table.concat(slots)
slots = nil
collectgarbage()
local function random_id()
  local k = math.random(n) - 1
  return (string.match(string.sub(packed, k * width + 1, (k + 1) * width), "^%S+"))
end`;

/** Random id per request, with variables: `body(id)` split around a placeholder id. */
export function writeLookupScript(file: string, source: IdSource | readonly string[], dialect: LookupDialect = GATEWAY_LOOKUP): void {
  const placeholder = '@@ORDER_ID@@';
  const [before, after] = dialect.variablesBody(placeholder).split(placeholder) as [string, string];
  const lua = `-- generated by test/bench/http-load.ts: order(orderId) lookups, random id per request
${idsLua(Array.isArray(source) ? { ids: source } : (source as IdSource))}
local before = ${luaString(before)}
local after = ${luaString(after)}

function init(args)
  math.randomseed(1000 + (tid or 0))
end

function request()
  return wrk.format(nil, "/graphql", nil, before .. random_id() .. after)
end
${common([dialect.missing])}`;
  writeFileSync(file, lua);
}

/**
 * Random id per request written into the query text, plus a comment unique to the thread and
 * request: every request is a document the server has not seen, so it parses and validates each.
 */
export function writeNewDocumentScript(file: string, source: IdSource, dialect: LookupDialect = GATEWAY_LOOKUP): void {
  const [id, salt] = ['@@ORDER_ID@@', '@@SALT@@'];
  const body = dialect.inTextBody(id, salt);
  const [before, rest] = body.split(id) as [string, string];
  const [middle, after] = rest.split(salt) as [string, string];
  const lua = `-- generated by test/bench/http-load.ts: order lookups with the id in the query text, a new document per request
${idsLua(source)}
local before = ${luaString(before)}
local middle = ${luaString(middle)}
local after = ${luaString(after)}
local count = 0
local run = 0

function init(args)
  -- seeded by the clock: each wrk run (round, warm-up) sends documents no earlier run sent
  math.randomseed(os.time() * 100 + (tid or 0))
  run = os.time() .. "-" .. math.random(1, 1000000000)
end

function request()
  count = count + 1
  return wrk.format(nil, "/graphql", nil, before .. random_id() .. middle .. run .. "-" .. (tid or 0) .. "-" .. count .. after)
end
${common([dialect.missing])}`;
  writeFileSync(file, lua);
}

/**
 * Round-robin over the grid variants, each thread starting at a different one. `fresh` sends
 * `Cache-Control: no-cache`: the gateway reads every page from its store instead of its response
 * cache (other servers ignore it).
 */
export function writeGridScript(file: string, variants: readonly GridVariant[] = GRID_VARIANTS, options: { fresh?: boolean } = {}): void {
  const lua = `-- generated by test/bench/http-load.ts: grid pages, rotating filter/sort variants${options.fresh ? ', read fresh' : ''}
${options.fresh ? 'wrk.headers["Cache-Control"] = "no-cache"\n' : ''}local bodies = {
${variants.map((variant) => `  ${luaString(gridBody(variant))},`).join('\n')}
}
local n = #bodies
local i = 0

function init(args)
  i = (tid or 0) % n
end

function request()
  i = i % n + 1
  return wrk.format(nil, "/graphql", nil, bodies[i])
end
${common(['"edges":[]'])}`;
  writeFileSync(file, lua);
}

export async function runWrk(options: LoadOptions): Promise<LoadResult> {
  const args = [
    `-t${options.threads}`,
    `-c${options.connections}`,
    `-d${options.durationSeconds}s`,
    '--timeout',
    `${REQUEST_TIMEOUT_SECONDS}s`,
    '--latency',
    '-s',
    options.script,
    `${options.url}/graphql`,
  ];
  const child = spawnTracked('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const timer = setTimeout(() => child.kill('SIGKILL'), (options.durationSeconds + REQUEST_TIMEOUT_SECONDS + 60) * 1000);
  const code = await exited(child).finally(() => clearTimeout(timer));
  const line = /^WRK_JSON (.*)$/m.exec(stdout)?.[1];
  if (code !== 0 || !line) throw new Error(`wrk ${args.join(' ')} exited with ${code}:\n${stdout}\n${stderr}`);
  const raw = JSON.parse(line) as Record<string, number>;
  const requests = raw.requests ?? 0;
  // Without a completed request wrk's percentiles are 0: report "no figure", not "0 ms".
  const ms = (name: string): number => (requests === 0 ? Number.NaN : (raw[name] ?? Number.NaN) / 1000);
  const seconds = (raw.duration_us ?? Number.NaN) / 1e6;
  return {
    threads: options.threads,
    connections: options.connections,
    durationSeconds: options.durationSeconds,
    requests,
    qps: requests / seconds,
    p50Ms: ms('p50_us'),
    p90Ms: ms('p90_us'),
    p99Ms: ms('p99_us'),
    maxMs: ms('max_us'),
    meanMs: ms('mean_us'),
    failed: raw.failed ?? 0,
  };
}

/** An unmeasured run (JIT, caches) on an idle server. */
export async function warmUp(server: ServerProcess, options: LoadOptions, seconds: number, waitForIdle = true): Promise<void> {
  if (seconds <= 0) return;
  if (waitForIdle) await waitIdle(server);
  await runWrk({ ...options, durationSeconds: seconds });
}

/**
 * One measured run, once the server has finished whatever the previous run left queued (unless
 * `waitForIdle` is false: a server that ingests a steady stream of records is never idle).
 */
export async function measureOnce(server: ServerProcess, options: LoadOptions, waitForIdle = true): Promise<LoadResult> {
  const idleWaitMs = waitForIdle ? await waitIdle(server) : 0;
  const before = await gatewayCounts(server.url);
  const result = await runWrk(options);
  const after = await gatewayCounts(server.url);
  const delta = (name: keyof GatewayCounts) =>
    before[name] !== undefined && after[name] !== undefined ? { [name]: after[name] - before[name] } : {};
  return { ...result, idleWaitMs, ...delta('cacheHits'), ...delta('workerAnswers') };
}

interface GatewayCounts {
  readonly cacheHits?: number;
  readonly workerAnswers?: number;
}

/** The gateway's response cache hits and read-worker answers so far; undefined for a server without those metrics. */
async function gatewayCounts(url: string): Promise<GatewayCounts> {
  try {
    const response = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) });
    if (!response.ok) return {};
    const text = await response.text();
    const hits = /^gw_response_cache_total\{outcome="hit"\} (\d+)/m.exec(text);
    const workers = /^gw_read_worker_tasks_total\{outcome="answered"\} (\d+)/m.exec(text);
    return {
      ...(hits ? { cacheHits: Number(hits[1]) } : {}),
      ...(text.includes('gw_read_worker_tasks_total') ? { workerAnswers: workers ? Number(workers[1]) : 0 } : {}),
    };
  } catch {
    return {};
  }
}

/** Medians over rounds; totals of requests and failures. */
export interface LoadSummary {
  readonly threads: number;
  readonly connections: number;
  readonly durationSeconds: number;
  readonly rounds: number;
  readonly qps: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly requests: number;
  readonly failed: number;
  /** Longest wait for the server to become idle before a round. */
  readonly maxIdleWaitMs: number;
  /** Answers sent from the gateway's response cache over the rounds; undefined for other servers. */
  readonly cacheHits: number | undefined;
  /** Queries the gateway's read workers answered over the rounds; undefined for other servers. */
  readonly workerAnswers: number | undefined;
  readonly runs: readonly LoadResult[];
}

/** Median of the numbers that are not NaN; NaN if there are none. */
export function median(values: readonly number[]): number {
  const sorted = values.filter((value) => !Number.isNaN(value)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function summarizeRuns(runs: readonly LoadResult[]): LoadSummary {
  const first = runs[0];
  if (!first) throw new Error('no load runs to summarize');
  return {
    threads: first.threads,
    connections: first.connections,
    durationSeconds: first.durationSeconds,
    rounds: runs.length,
    qps: median(runs.map((run) => run.qps)),
    p50Ms: median(runs.map((run) => run.p50Ms)),
    p90Ms: median(runs.map((run) => run.p90Ms)),
    p99Ms: median(runs.map((run) => run.p99Ms)),
    requests: runs.reduce((sum, run) => sum + run.requests, 0),
    failed: runs.reduce((sum, run) => sum + run.failed, 0),
    maxIdleWaitMs: Math.max(...runs.map((run) => run.idleWaitMs ?? 0)),
    cacheHits: runs.every((run) => run.cacheHits !== undefined) ? runs.reduce((sum, run) => sum + run.cacheHits!, 0) : undefined,
    workerAnswers: runs.every((run) => run.workerAnswers !== undefined) ? runs.reduce((sum, run) => sum + run.workerAnswers!, 0) : undefined,
    runs,
  };
}

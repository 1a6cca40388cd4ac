/**
 * Output: one table on stdout (figure, gateway, baseline, ratio, target, met) plus the machine and
 * the command, and the same data as JSON in test/bench/results/latest.json.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GATEWAY_NODE_FLAGS, gatewayAllocatorEnv, JEMALLOC, REPO_ROOT } from './settings.ts';

export interface Row {
  readonly figure: string;
  readonly value: number;
  readonly unit: string;
  readonly baseline?: number | undefined;
  /** value / baseline, or baseline / value when lower is better (so > 1 is always "gateway better"). */
  readonly ratio?: number | undefined;
  readonly target?: string | undefined;
  readonly met?: boolean | undefined;
  readonly note?: string | undefined;
}

export interface Machine {
  readonly nproc: number;
  readonly cpu: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly platform: string;
  /** 1-minute load average when the run started: other work on the machine skews the figures. */
  readonly loadAverageAtStart: number;
  readonly loadAverageAtEnd?: number;
  /** Share of the last 60 s some task waited for a CPU (Linux PSI), at start and end; null if unavailable. */
  readonly cpuPressureAtStart: number | null;
  readonly cpuPressureAtEnd?: number | null;
}

export interface Revision {
  /** HEAD's short hash. */
  readonly head: string;
  /** Short tree hashes of src/ and views/ at HEAD, "+dirty" with uncommitted changes there. */
  readonly code: string;
}

/**
 * The code under test, taken at start and at end: a different `code` at the end means src/ or
 * views/ changed during the run (commits elsewhere, e.g. tests, do not count).
 */
export function revision(): Revision {
  const git = (...args: string[]): string =>
    execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    const dirty = git('status', '--porcelain', '--', 'src', 'views') !== '';
    const code = `src ${git('rev-parse', '--short', 'HEAD:src')}, views ${git('rev-parse', '--short', 'HEAD:views')}${dirty ? ' +dirty' : ''}`;
    return { head: git('rev-parse', '--short', 'HEAD'), code };
  } catch {
    return { head: 'unknown', code: 'unknown' };
  }
}

/** `some avg60` of /proc/pressure/cpu in percent: how much other work competed for the CPUs. */
export function cpuPressure(): number | null {
  try {
    const match = /^some avg10=[\d.]+ avg60=([\d.]+)/m.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

export function machine(): Machine {
  return {
    nproc: os.availableParallelism(),
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAverageAtStart: Math.round(os.loadavg()[0]! * 100) / 100,
    cpuPressureAtStart: cpuPressure(),
  };
}

export function format(value: number | undefined, unit = ''): string {
  if (value === undefined || Number.isNaN(value)) return '-';
  const digits = Number.isInteger(value) || Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  const text = value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
  return unit === '' ? text : `${text} ${unit}`;
}

function table(rows: readonly Row[]): string {
  const header = ['Figure', 'Gateway', 'Baseline', 'Ratio', 'Target', 'Met', 'Detail'];
  const cells = rows.map((row) => [
    row.figure,
    format(row.value, row.unit),
    row.baseline === undefined ? '-' : format(row.baseline, row.unit),
    row.ratio === undefined ? '-' : `${format(row.ratio)}x`,
    row.target ?? '-',
    row.met === undefined ? '-' : row.met ? 'met' : 'NOT MET',
    row.note ?? '',
  ]);
  const widths = header.map((title, i) => Math.max(title.length, ...cells.map((cell) => cell[i]!.length)));
  const line = (cell: readonly string[]): string =>
    `| ${cell.map((text, i) => (i === 0 || i >= 4 ? text.padEnd(widths[i]!) : text.padStart(widths[i]!))).join(' | ')} |`;
  return [line(header), `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

export interface Report {
  readonly date: string;
  readonly command: string;
  /** Revision at start and at end (see `revision`). */
  readonly revision: { readonly start: Revision; readonly end: Revision };
  readonly machine: Machine;
  readonly scale: Record<string, number>;
  readonly rows: readonly Row[];
  readonly notes: readonly string[];
  /** Printed verbatim after the notes (e.g. the CPU profile). */
  readonly appendix: readonly string[];
  readonly details: Record<string, unknown>;
}

export function renderReport(report: Report): string {
  const m = report.machine;
  const lines = [
    '',
    `Gateway benchmark, ${report.date}`,
    `machine: ${m.nproc} cores (${m.cpu}), ${m.memoryGiB} GiB, ${m.platform}, node ${m.node}, ` +
      `load average ${m.loadAverageAtStart} at start${m.loadAverageAtEnd === undefined ? '' : `, ${m.loadAverageAtEnd} at end`}` +
      (m.cpuPressureAtStart === null
        ? ''
        : `, CPU pressure (PSI some avg60) ${m.cpuPressureAtStart} % at start, ${m.cpuPressureAtEnd ?? '-'} % at end`),
    `command: ${report.command}`,
    `gateway allocator: ${gatewayAllocatorEnv().LD_PRELOAD ? `jemalloc (LD_PRELOAD=${JEMALLOC})` : 'glibc malloc (libjemalloc2 not installed)'}; node flags ${GATEWAY_NODE_FLAGS.join(' ')}`,
    `revision: ${report.revision.start.head} (${report.revision.start.code})` +
      (report.revision.end.code === report.revision.start.code
        ? ''
        : `; at the end ${report.revision.end.head} (${report.revision.end.code}): the code changed during the run`),
    `scale: ${Object.entries(report.scale)
      .map(([name, value]) => `${name} ${value.toLocaleString('en-US')}`)
      .join(', ')}`,
    '',
    table(report.rows),
    '',
    'Ratios are gateway/baseline for throughput and baseline/gateway for latency: above 1 means the gateway is ahead.',
    ...report.notes.map((note) => `note: ${note}`),
    ...(report.appendix.length > 0 ? ['', ...report.appendix] : []),
    '',
  ];
  return lines.join('\n');
}

export function writeReport(resultsDir: string, report: Report): string {
  mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, 'latest.json');
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}

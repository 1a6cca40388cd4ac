/**
 * CPU time and memory of a process and its threads, from /proc (Linux): what the A/B scripts
 * (ingest-ab.ts, http-ab.ts) report per thread group, so that RocksDB's background threads, V8's
 * helpers and the read workers are seen apart from the main thread.
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICK = 100; // USER_HZ

/** utime + stime in seconds of a process or one of its threads, and its name (digits at the end as `#`). */
export function cpuSeconds(statFile: string): { name: string; seconds: number } {
  const stat = readFileSync(statFile, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return {
    name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/\d+$/, '#'),
    seconds: (Number(fields[11]) + Number(fields[12])) / TICK,
  };
}

/** CPU seconds so far per thread name (threads of one name summed). */
export function threadSeconds(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      const { name, seconds } = cpuSeconds(`/proc/${pid}/task/${task}/stat`);
      out[name] = (out[name] ?? 0) + seconds;
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** Threads with at least 0.1 s of CPU, rounded to 0.1 s. */
export function threads(pid: number): Record<string, number> {
  return Object.fromEntries(
    Object.entries(threadSeconds(pid))
      .map(([name, seconds]) => [name, Math.round(seconds * 10) / 10] as const)
      .filter(([, seconds]) => seconds >= 0.1),
  );
}

export function memoryMb(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss: Math.round(kb('VmRSS') / 1024), peak: Math.round(kb('VmHWM') / 1024) };
}

/** The machine's idle and total CPU time in clock ticks so far (`/proc/stat`, all cores). */
export function machineTicks(): { idle: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is counted in user already).
  const total = fields.slice(0, 8).reduce((sum, value) => sum + value, 0);
  return { idle: fields[3]! + fields[4]!, total };
}

/**
 * Everything the bench starts is registered here so nothing outlives it: child processes are
 * killed (SIGKILL) when the bench exits for any reason, and cleanup steps (stop the broker,
 * remove temp dirs) run in reverse order from `runCleanup()`, or synchronously on SIGINT/SIGTERM.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

interface Step {
  readonly what: string;
  /** Runs in the normal `finally` path. */
  readonly run: () => Promise<void> | void;
  /** Runs synchronously when the bench is interrupted (no event loop left); defaults to `run` if sync. */
  readonly runSync?: () => void;
}

const children = new Set<ChildProcess>();
const steps: Step[] = [];
let installed = false;

function killChildren(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

function runSyncSteps(): void {
  for (const step of steps.splice(0).reverse()) {
    try {
      step.runSync?.();
    } catch (error) {
      process.stderr.write(`bench: cleanup "${step.what}" failed: ${String(error)}\n`);
    }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', killChildren);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      process.stderr.write(`bench: ${signal}, cleaning up\n`);
      killChildren();
      runSyncSteps();
      process.exit(130);
    });
  }
}

/** Spawns a child that is killed when the bench exits. */
export function spawnTracked(command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  install();
  const child = spawn(command, [...args], options);
  children.add(child);
  child.once('exit', () => children.delete(child));
  child.once('error', () => children.delete(child));
  return child;
}

/** Resolves with the exit code (or signal name) once the child has exited. */
export function exited(child: ChildProcess): Promise<number | string> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  if (child.signalCode !== null) return Promise.resolve(child.signalCode);
  return new Promise((resolve, reject) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
    child.once('error', reject);
  });
}

/** Sends `signal`, waits up to `graceMs`, then SIGKILLs. */
export async function terminate(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 30_000): Promise<number | string> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode ?? child.signalCode ?? 'unknown';
  const done = exited(child);
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  try {
    return await done;
  } finally {
    clearTimeout(timer);
  }
}

/** Registers a cleanup step; steps run last-registered first. */
export function onCleanup(what: string, run: () => Promise<void> | void, runSync?: () => void): void {
  install();
  steps.push({ what, run, runSync });
}

/** Runs every registered step (reverse order), reporting but not throwing failures. */
export async function runCleanup(): Promise<void> {
  killChildren();
  for (const step of steps.splice(0).reverse()) {
    try {
      await step.run();
    } catch (error) {
      process.stderr.write(`bench: cleanup "${step.what}" failed: ${error instanceof Error ? error.message : String(error)}\n`);
    }
  }
}

/**
 * Runs a bench's main function, then every cleanup step, and exits: 0 on success, 1 with the
 * error on stderr when it failed.
 */
export async function runMain(main: () => Promise<void>): Promise<never> {
  let failed = false;
  try {
    await main();
  } catch (error) {
    failed = true;
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  } finally {
    await runCleanup();
  }
  process.exit(failed ? 1 : 0);
}

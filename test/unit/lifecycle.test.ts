import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { createRestoreProgress } from '../../src/cluster/restore-progress.ts';
import { loadConfig } from '../../src/config.ts';
import { isGatewayError } from '../../src/errors.ts';
import type { Logger } from '../../src/log.ts';
import { handleStopSignals, STOP_MARGIN_MS } from '../../src/signals.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

function recordingLogger(): Logger & { lines: Array<{ level: string; message: string; fields?: Record<string, unknown> }> } {
  const lines: Array<{ level: string; message: string; fields?: Record<string, unknown> }> = [];
  const at = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    lines.push({ level, message, ...(fields ? { fields } : {}) });
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } as Logger & { lines: typeof lines };
}

describe('stop signals', () => {
  const setup = (stop: () => Promise<void>, forceAfterMs = 60_000) => {
    const signals = new EventEmitter();
    const exits: number[] = [];
    const logger = recordingLogger();
    handleStopSignals({ stop, logger, exit: (code) => exits.push(code), signals, forceAfterMs });
    return { signals, exits, logger };
  };

  it('stops gracefully on the first SIGTERM and exits 0 when the stop ends', async () => {
    let finish: () => void = () => undefined;
    let calls = 0;
    const { signals, exits } = setup(() => {
      calls++;
      return new Promise<void>((resolve) => {
        finish = resolve;
      });
    });
    signals.emit('SIGTERM', 'SIGTERM');
    expect(calls).toBe(1);
    expect(exits).toEqual([]);
    finish();
    await new Promise((resolve) => setImmediate(resolve));
    expect(exits).toEqual([0]);
  });

  it('exits at once on a second signal: 143 for SIGTERM, 130 for SIGINT', () => {
    const never = () => new Promise<void>(() => undefined);
    const term = setup(never);
    term.signals.emit('SIGTERM', 'SIGTERM');
    term.signals.emit('SIGTERM', 'SIGTERM');
    expect(term.exits).toEqual([143]);
    const int = setup(never);
    int.signals.emit('SIGINT', 'SIGINT');
    int.signals.emit('SIGINT', 'SIGINT');
    expect(int.exits).toEqual([130]);
  });

  it('exits 1 when the stop fails or does not end in time', async () => {
    const failing = setup(() => Promise.reject(new Error('store')));
    failing.signals.emit('SIGINT', 'SIGINT');
    await new Promise((resolve) => setImmediate(resolve));
    expect(failing.exits).toEqual([1]);
    expect(failing.logger.lines.some((line) => line.message === 'stop failed')).toBe(true);
    const hanging = setup(() => new Promise<void>(() => undefined), 20);
    hanging.signals.emit('SIGTERM', 'SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(hanging.exits).toEqual([1]);
  });

  it("the longest stop with the default settings ends within the manifests' grace period", async () => {
    const config = loadConfig({ KAFKA_BROKERS: '127.0.0.1:9092' });
    expect(config.shutdownTimeoutMs).toBe(25_000);
    expect(config.shutdownDelayMs).toBe(0);
    const manifest = parseAllDocuments(await readFile(path.join(ROOT, 'deploy/k8s/statefulset.yaml'), 'utf8')).map((doc) => doc.toJS());
    const grace = Number(manifest.find((doc) => doc?.kind === 'StatefulSet').spec.template.spec.terminationGracePeriodSeconds);
    expect(grace).toBe(60);
    expect(config.shutdownDelayMs + config.shutdownTimeoutMs + STOP_MARGIN_MS).toBeLessThan(grace * 1000);
  });
});

describe('restore progress', () => {
  it('logs records, percentage, rate and ETA while partitions restore, then that it is done', () => {
    const logger = recordingLogger();
    let clock = 0;
    let next = [0, 100];
    let lag = [1000, 900];
    const progress = createRestoreProgress({
      progress: () => next.map((offset, partition) => ({ topic: 'orders', partition, nextOffset: String(offset), lag: lag[partition]! })),
      restoring: (_topic, partition) => lag[partition]! > 10,
      logger,
      now: () => clock,
    });
    progress.report();
    clock = 10_000;
    next = [500, 500];
    lag = [500, 500];
    progress.report();
    clock = 20_000;
    next = [1000, 1000];
    lag = [0, 0];
    progress.report();
    progress.report();
    const lines = logger.lines.map((line) => [line.message, line.fields]);
    expect(lines).toEqual([
      ['restore progress', { partitions: 2, applied: 0, remaining: 1900, percent: 0 }],
      ['restore progress', { partitions: 2, applied: 900, remaining: 1000, percent: 47.4, recordsPerSecond: 90, etaSeconds: 12 }],
      ['restore done', { partitions: 2, applied: 1900, seconds: 20 }],
    ]);
  });
});

describe('tracing configuration', () => {
  const base = { KAFKA_BROKERS: '127.0.0.1:9092' };
  const failure = (env: Record<string, string>) => {
    try {
      loadConfig({ ...base, ...env });
    } catch (error) {
      if (isGatewayError(error)) return (error.details as { variable: string }).variable;
      throw error;
    }
    return undefined;
  };

  it('is off by default, on with an OTLP endpoint or OTEL_TRACES_EXPORTER, off with none or OTEL_SDK_DISABLED', () => {
    expect(loadConfig(base).tracing).toBeUndefined();
    expect(loadConfig({ ...base, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).tracing).toEqual({
      exporter: 'otlp',
      serviceName: 'kafka-graphql-gateway',
      resourceAttributes: {},
      sampler: 'parentbased_always_on',
      samplerRatio: 1,
    });
    expect(loadConfig({ ...base, OTEL_TRACES_EXPORTER: 'console' }).tracing?.exporter).toBe('console');
    expect(loadConfig({ ...base, OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }).tracing).toBeUndefined();
    expect(loadConfig({ ...base, OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'true' }).tracing).toBeUndefined();
    expect(
      loadConfig({
        ...base,
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_SERVICE_NAME: 'gw-eu',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod,team=data%20platform',
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.25',
      }).tracing,
    ).toEqual({
      exporter: 'otlp',
      serviceName: 'gw-eu',
      resourceAttributes: { 'deployment.environment': 'prod', team: 'data platform' },
      sampler: 'parentbased_traceidratio',
      samplerRatio: 0.25,
    });
  });

  it('names the variable that is wrong', () => {
    expect(failure({ OTEL_TRACES_EXPORTER: 'jaeger' })).toBe('OTEL_TRACES_EXPORTER');
    expect(failure({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toBe('OTEL_EXPORTER_OTLP_ENDPOINT');
    expect(failure({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toBe('OTEL_EXPORTER_OTLP_PROTOCOL');
    expect(failure({ OTEL_TRACES_SAMPLER: 'sometimes' })).toBe('OTEL_TRACES_SAMPLER');
    expect(failure({ OTEL_TRACES_SAMPLER_ARG: '2' })).toBe('OTEL_TRACES_SAMPLER_ARG');
    expect(failure({ OTEL_RESOURCE_ATTRIBUTES: 'novalue' })).toBe('OTEL_RESOURCE_ATTRIBUTES');
    expect(failure({ SHUTDOWN_TIMEOUT_MS: '-1' })).toBe('SHUTDOWN_TIMEOUT_MS');
  });
});

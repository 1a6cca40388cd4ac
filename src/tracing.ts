/**
 * Tracing with OpenTelemetry, off unless started (src/main.ts starts it when the OTEL_* variables
 * ask for it; see the README, "Tracing"). Every folder may use the helpers below; while tracing is
 * off they call their function directly and touch nothing of OpenTelemetry, so the hot paths
 * (store reads, ingest batches) pay one comparison.
 *
 * Spans the gateway makes:
 *
 *   `query <name>` / `subscription <name>`   server span per GraphQL operation (src/server/telemetry.ts),
 *                                            child of a W3C `traceparent` the client sent
 *   `peer <op>`                              client span per call to another instance; its context
 *                                            travels in the `traceparent` header of the call
 *   `peer serve`                             server span of the owner answering it (same trace)
 *   `store <read>`                           a local read (lookup, pages, count, related), only
 *                                            inside another span
 *   `ingest batch`                           one per fetched batch a partition applies (a root)
 *
 * The SDK (`@opentelemetry/sdk-trace`, the OTLP exporter) is loaded by `startTracing` only.
 * OpenTelemetry's API is process-wide: one tracer provider, context manager and propagator per
 * process, shared by every gateway instance in it (the in-process tests run several).
 */
import {
  context as otelContext,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Span,
  type Tracer,
} from '@opentelemetry/api';

// A type only: the SDK itself is loaded by startTracing.
import type { SpanExporter } from '@opentelemetry/sdk-trace';

export { SpanKind, type Attributes, type Span, type SpanExporter };

export type Sampler = 'always_on' | 'always_off' | 'traceidratio' | 'parentbased_always_on' | 'parentbased_always_off' | 'parentbased_traceidratio';

export interface TracingOptions {
  /** `otlp`: OTLP over HTTP (JSON), configured by the OTEL_EXPORTER_OTLP_* variables; `console`: stdout. */
  readonly exporter: 'otlp' | 'console' | SpanExporter;
  readonly serviceName: string;
  /** Extra resource attributes (OTEL_RESOURCE_ATTRIBUTES). */
  readonly resourceAttributes?: Readonly<Record<string, string>>;
  readonly sampler?: Sampler;
  /** The ratio of the `*traceidratio` samplers (OTEL_TRACES_SAMPLER_ARG), 0 to 1. */
  readonly samplerRatio?: number;
  /** Export each span when it ends (tests), instead of in batches. */
  readonly exportEachSpan?: boolean;
}

export interface TracingHandle {
  /** Exports the spans still buffered. */
  flush(): Promise<void>;
  /** Exports what is buffered and turns tracing off. */
  stop(): Promise<void>;
}

let tracer: Tracer | undefined;

/** Whether spans are made (tracing was started). */
export function tracingEnabled(): boolean {
  return tracer !== undefined;
}

/**
 * Starts tracing for this process: a tracer provider with the exporter, the async-hooks context
 * manager (a span's context follows its awaits) and the W3C trace-context propagator.
 */
export async function startTracing(options: TracingOptions): Promise<TracingHandle> {
  if (tracer) throw new Error('tracing is already started in this process');
  const [sdk, hooks, core, resources] = await Promise.all([
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/context-async-hooks'),
    import('@opentelemetry/core'),
    import('@opentelemetry/resources'),
  ]);
  let exporter: SpanExporter;
  if (options.exporter === 'otlp') {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    exporter = new OTLPTraceExporter();
  } else if (options.exporter === 'console') {
    exporter = new sdk.ConsoleSpanExporter();
  } else {
    exporter = options.exporter;
  }
  const ratio = options.samplerRatio ?? 1;
  const samplers = {
    always_on: () => new sdk.AlwaysOnSampler(),
    always_off: () => new sdk.AlwaysOffSampler(),
    traceidratio: () => new sdk.TraceIdRatioBasedSampler(ratio),
    parentbased_always_on: () => new sdk.ParentBasedSampler({ root: new sdk.AlwaysOnSampler() }),
    parentbased_always_off: () => new sdk.ParentBasedSampler({ root: new sdk.AlwaysOffSampler() }),
    parentbased_traceidratio: () => new sdk.ParentBasedSampler({ root: new sdk.TraceIdRatioBasedSampler(ratio) }),
  } satisfies Record<Sampler, () => unknown>;
  const provider = new sdk.TracerProvider({
    resource: resources.resourceFromAttributes({ ...options.resourceAttributes, 'service.name': options.serviceName }),
    sampler: samplers[options.sampler ?? 'parentbased_always_on'](),
    spanProcessors: [options.exportEachSpan ? new sdk.SimpleSpanProcessor({ exporter }) : new sdk.BatchSpanProcessor({ exporter })],
  });
  const contextManager = new hooks.AsyncLocalStorageContextManager().enable();
  otelContext.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new core.W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  tracer = provider.getTracer('kafka-graphql-gateway');
  return {
    flush: () => provider.forceFlush(),
    async stop() {
      tracer = undefined;
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      otelContext.disable();
    },
  };
}

export interface SpanOptions {
  readonly kind?: SpanKind;
  readonly attributes?: Attributes;
  /** Make the span only inside another one (reads that belong to a request). */
  readonly onlyInTrace?: boolean;
}

function fail(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

/**
 * Runs `fn` inside a span that ends when `fn` returns or, for a promise, settles; a throw or a
 * rejection marks the span as failed. With tracing off, or with `onlyInTrace` outside any span,
 * `fn` runs without one (it gets undefined).
 */
export function inSpan<T>(name: string, options: SpanOptions, fn: (span: Span | undefined) => T): T {
  if (!tracer) return fn(undefined);
  const parent = otelContext.active();
  if (options.onlyInTrace && !trace.getSpan(parent)) return fn(undefined);
  const span = tracer.startSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes }, parent);
  let result: T;
  try {
    result = otelContext.with(trace.setSpan(parent, span), () => fn(span));
  } catch (error) {
    fail(span, error);
    span.end();
    throw error;
  }
  if (result instanceof Promise) {
    return result.then(
      (value) => {
        span.end();
        return value;
      },
      (error: unknown) => {
        fail(span, error);
        span.end();
        throw error;
      },
    ) as T;
  }
  span.end();
  return result;
}

/**
 * Starts a span that the caller ends (an operation whose end another hook sees), child of the
 * context carried by `carrier` headers when they hold a `traceparent`, else of the active one.
 * Undefined while tracing is off.
 */
export function startSpan(
  name: string,
  options: SpanOptions & { readonly headers?: Readonly<Record<string, string | string[] | undefined>> },
): { span: Span; run<T>(fn: () => T): T; fail(error: unknown): void } | undefined {
  if (!tracer) return undefined;
  const parent = options.headers ? propagation.extract(otelContext.active(), options.headers) : otelContext.active();
  const span = tracer.startSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes }, parent);
  const spanContext = trace.setSpan(parent, span);
  return { span, run: (fn) => otelContext.with(spanContext, fn), fail: (error) => fail(span, error) };
}

/** Marks a span as failed without an exception (an answer carrying errors). */
export function markFailed(span: Span, message: string): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}

/** The W3C trace-context headers of the active span (`traceparent`, `tracestate`); none while off. */
export function traceHeaders(): Record<string, string> {
  if (!tracer) return {};
  const headers: Record<string, string> = {};
  propagation.inject(otelContext.active(), headers);
  return headers;
}

/** Runs `fn` in the trace context the headers carry (an incoming call); directly while off. */
export function withIncomingContext<T>(headers: Readonly<Record<string, string | string[] | undefined>>, fn: () => T): T {
  if (!tracer) return fn();
  return otelContext.with(propagation.extract(ROOT_CONTEXT, headers), fn);
}

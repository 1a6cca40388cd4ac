/**
 * A server span per GraphQL operation (`query <name>`, `subscription <name>`), as a yoga plugin,
 * so HTTP, SSE and WebSocket operations (the latter through yoga's envelop) all get one. The span
 * is a child of the W3C trace context the client sent (`traceparent` on the request, or on the
 * WebSocket upgrade), and the operation runs inside it: the store reads and peer calls it makes
 * are its children. A query's span ends with its result; a subscription's once it is set up
 * (snapshot read or resume replayed), not with the stream. Nothing happens while tracing is off.
 *
 * Place it after the plugins that replace the executor (graphql-jit), so it wraps theirs.
 */
import { getOperationAST, type DocumentNode, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { markFailed, SpanKind, startSpan, tracingEnabled } from '../tracing.ts';
import { transportOf } from './metrics.ts';

type Headers = Readonly<Record<string, string | string[] | undefined>>;

/** The client's headers: the Fetch request's (HTTP, SSE) or the upgrade request's (WebSocket). */
function clientHeaders(context: unknown): Headers | undefined {
  const value = context as { request?: Request; req?: { headers: Headers } } | undefined;
  if (value?.request) return Object.fromEntries(['traceparent', 'tracestate'].map((name) => [name, value.request!.headers.get(name) ?? undefined]));
  return value?.req?.headers;
}

function operationSpan(document: DocumentNode, operationName: string | null | undefined, context: unknown) {
  const operation = getOperationAST(document, operationName ?? undefined);
  const type = operation?.operation ?? 'unknown';
  const name = operationName ?? operation?.name?.value;
  return startSpan(name ? `${type} ${name}` : type, {
    kind: SpanKind.SERVER,
    headers: clientHeaders(context),
    attributes: {
      'graphql.operation.type': type,
      ...(name ? { 'graphql.operation.name': name } : {}),
      'gw.transport': transportOf(context),
    },
  });
}

type Handle = NonNullable<ReturnType<typeof startSpan>>;

function endWith(handle: Handle, result: ExecutionResult | AsyncIterable<unknown>): void {
  if (!(Symbol.asyncIterator in result) && result.errors?.length) {
    handle.span.setAttribute('gw.errors', result.errors.length);
    markFailed(
      handle.span,
      result.errors
        .map((error) => error.message)
        .join('; ')
        .slice(0, 500),
    );
  }
  handle.span.end();
}

/** Runs the executor in the span; a throw (rather than a result with errors) ends it as failed. */
function inside<F extends (args: never) => unknown>(handle: Handle, fn: F): F {
  const wrapped = (args: Parameters<F>[0]) =>
    handle.run(async () => {
      try {
        return await fn(args);
      } catch (error) {
        handle.fail(error);
        handle.span.end();
        throw error;
      }
    });
  return wrapped as unknown as F;
}

export function tracingPlugin(): Plugin {
  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      if (!tracingEnabled()) return undefined;
      const handle = operationSpan(args.document, args.operationName, args.contextValue);
      if (!handle) return undefined;
      setExecuteFn(inside(handle, executeFn));
      return {
        onExecuteDone({ result }) {
          endWith(handle, result);
        },
      };
    },
    onSubscribe({ args, subscribeFn, setSubscribeFn }) {
      if (!tracingEnabled()) return undefined;
      const handle = operationSpan(args.document, args.operationName, args.contextValue);
      if (!handle) return undefined;
      setSubscribeFn(inside(handle, subscribeFn));
      return {
        onSubscribeResult({ result }) {
          endWith(handle, result);
        },
      };
    },
  };
}

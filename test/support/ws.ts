/** A graphql-ws client for tests, collecting each subscription's events. */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export interface Collected<T> {
  readonly events: T[];
  readonly errors: unknown[];
  done: boolean;
  stop(): void;
}

export function wsClient(httpUrl: string): Client {
  return createClient({
    url: `${httpUrl.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
  });
}

/** Subscribes and pushes every `data[field]` into `events`; errors end up in `errors`. */
export function collect<T>(client: Client, query: string, variables: Record<string, unknown>, field: string): Collected<T> {
  const collected: Collected<T> = { events: [], errors: [], done: false, stop: () => undefined };
  collected.stop = client.subscribe<Record<string, T>>(
    { query, variables },
    {
      next: (result) => {
        if (result.errors) collected.errors.push(...result.errors);
        const value = result.data?.[field];
        if (value) collected.events.push(value);
      },
      error: (error) => {
        collected.errors.push(error);
        collected.done = true;
      },
      complete: () => {
        collected.done = true;
      },
    },
  );
  return collected;
}

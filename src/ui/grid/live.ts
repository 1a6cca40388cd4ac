/**
 * Live changes of the grid's rows: the `ordersChanged` list subscription over graphql-ws, at the
 * page's own origin (`ws:` or `wss:` as the page is `http:` or `https:`), with the client token
 * as `authorization` in `connection_init` when one is set.
 *
 * Contract of `follow`:
 * - `onCaughtUp` after the subscription has caught up (first subscribe and every resume);
 *   `onChange` for every UPSERT and REMOVE, in the order the gateway sends them.
 * - A cut connection, a cut-off slow subscriber (GW_SUBSCRIPTION_OVERFLOW) or a refused
 *   subscribe is resumed from the token of the last event received (on any instance), after
 *   0.5 s doubling up to 15 s, at most MAX_RETRIES times in a row; a resume that is caught up
 *   resets the count. Then it stops and says so through `onState`.
 * - A subscription that failed before its first event is subscribed again the same way, without
 *   a token; its `onCaughtUp(false)` then tells the grid that changes may have been missed.
 * - When the gateway cannot resume (GW_RESUME_TOO_FAR), `onLost` is called: the grid reads its
 *   rows again.
 * - A refused token (GW_AUTH_*, close code 4403) stops it until the next `follow`.
 */
import { createClient, type Client } from 'graphql-ws';
import { CHANGES_SUBSCRIPTION } from './queries.ts';
import type { OrderRow } from './rows.ts';

export interface ChangeEvent {
  readonly kind: 'SNAPSHOT' | 'CAUGHT_UP' | 'UPSERT' | 'REMOVE';
  readonly key: string | null;
  readonly token: string;
  readonly node: OrderRow | null;
}

export type LiveState = 'connecting' | 'live' | 'retrying' | 'stopped';

export interface LiveHandlers {
  onCaughtUp(resumed: boolean): void;
  onChange(event: ChangeEvent): void;
  onLost(reason: string): void;
  onState(state: LiveState, detail?: string): void;
}

export interface LiveFeed {
  stop(): void;
}

const MAX_RETRIES = 10;
const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 15_000;

interface GatewayError {
  message?: string;
  extensions?: { code?: string; details?: { token?: string } };
}

/** The graphql-ws URL of the page's origin: `graphql` next to the page, ws: or wss:. */
export function subscriptionUrl(page: string): string {
  const url = new URL('graphql', page);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

export function follow(
  options: { url: string; token: () => string | undefined; variables: Record<string, unknown> },
  handlers: LiveHandlers,
): LiveFeed {
  let stopped = false;
  let lastToken: string | undefined;
  let retries = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let unsubscribe: (() => void) | undefined;
  const client: Client = createClient({
    url: options.url,
    lazy: true,
    retryAttempts: 0,
    connectionParams: () => {
      const token = options.token();
      return token ? { authorization: `Bearer ${token}` } : {};
    },
  });

  const stop = (state: LiveState, detail: string) => {
    unsubscribe?.();
    handlers.onState(state, detail);
  };

  /** Resumes after a failure, or reports why it cannot. */
  const retry = (why: string, code: string | undefined, resumeFrom?: string) => {
    if (stopped) return;
    unsubscribe?.();
    unsubscribe = undefined;
    if (resumeFrom) lastToken = resumeFrom;
    if (code === 'GW_AUTH_REQUIRED' || code === 'GW_AUTH_INVALID' || code === '4403') {
      stop('stopped', `live updates refused: ${why}`);
      return;
    }
    if (code === 'GW_RESUME_TOO_FAR') {
      lastToken = undefined;
      handlers.onLost(why);
      return;
    }
    if (retries >= MAX_RETRIES) {
      stop('stopped', `live updates stopped after ${MAX_RETRIES} attempts: ${why}`);
      return;
    }
    const delay = code === 'GW_SUBSCRIPTION_OVERFLOW' ? 0 : Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** retries);
    retries += 1;
    handlers.onState('retrying', why);
    timer = setTimeout(subscribe, delay);
  };

  function subscribe(): void {
    if (stopped) return;
    const resumed = lastToken !== undefined;
    handlers.onState('connecting');
    let ended = false;
    const end = (why: string, code: string | undefined, resumeFrom?: string) => {
      if (ended) return;
      ended = true;
      retry(why, code, resumeFrom);
    };
    unsubscribe = client.subscribe<{ ordersChanged: ChangeEvent }>(
      { query: CHANGES_SUBSCRIPTION, variables: { ...options.variables, after: lastToken ?? null } },
      {
        next: (result) => {
          if (stopped || ended) return;
          const error = result.errors?.[0] as GatewayError | undefined;
          if (error) {
            end(error.message ?? 'subscription error', error.extensions?.code, error.extensions?.details?.token || undefined);
            return;
          }
          const event = result.data?.ordersChanged;
          if (!event) return;
          lastToken = event.token || lastToken;
          if (event.kind === 'CAUGHT_UP') {
            retries = 0;
            handlers.onState('live');
            handlers.onCaughtUp(resumed);
          } else if (event.kind === 'UPSERT' || event.kind === 'REMOVE') {
            handlers.onChange(event);
          }
        },
        error: (error: unknown) => {
          if (stopped) return;
          const list = Array.isArray(error) ? (error as GatewayError[]) : undefined;
          const close = error as { code?: number; reason?: string } | undefined;
          if (list?.[0]) end(list[0].message ?? 'subscription refused', list[0].extensions?.code);
          else if (typeof close?.code === 'number')
            end(`connection closed (${close.code}${close.reason ? `: ${close.reason}` : ''})`, String(close.code));
          else end(error instanceof Error ? error.message : 'connection failed', undefined);
        },
        complete: () => {
          if (!stopped) end('the gateway ended the subscription', undefined);
        },
      },
    );
  }

  subscribe();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      unsubscribe?.();
      void client.dispose();
    },
  };
}

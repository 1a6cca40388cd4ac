/**
 * The subscriptions this instance serves: opening one, within the instance's limit, and
 * forgetting it when its stream closes, whether the client left, fell behind or failed.
 *
 * No gap, no duplicate: a subscription is registered (and so receives changes) before its
 * starting point is known, and holds what arrives meanwhile. Once the snapshot was read, or the
 * token's offsets were taken, the held changes are delivered from that point on. Then come the
 * missed changes of a resume, CAUGHT_UP, and the feeds of partitions owned elsewhere.
 */
import { GatewayError } from '../errors.ts';
import type { Offsets } from '../routing/consistency.ts';
import type { RecentChanges } from '../store/recent-changes.ts';
import type { ViewModel } from '../views/model.ts';
import type { RemoteFeeds } from './remote-feeds.ts';
import { replayRecentChanges, startFromToken } from './resume.ts';
import { readSnapshot, type SnapshotAccess, type SnapshotRead } from './snapshot.ts';
import { createEventStream, type EventStream } from './stream.ts';
import { deliverChanges, tokenOf, type ChangeEvent, type Decide, type Subscription } from './subscription.ts';

/** What to subscribe to, and how a subscription of this kind starts. */
export interface SubscriptionSpec {
  readonly view: ViewModel;
  readonly partitions: readonly number[];
  readonly decide: Decide;
  /** Makes the subscription receive changes; returns the function that stops that. */
  readonly register: (subscription: Subscription) => () => void;
  /** The current state, read when not resuming. */
  readonly snapshot: SnapshotRead;
  /** Whose subscription it is: the snapshot is read with these claims and row scopes. */
  readonly access: SnapshotAccess;
  /** Whether CAUGHT_UP follows the snapshot (on resume it always ends the missed changes). */
  readonly announceSnapshotEnd: boolean;
}

export interface SubscriptionRegistryOptions {
  readonly recent: RecentChanges;
  readonly feeds: RemoteFeeds;
  readonly servesLocally: (view: ViewModel, partition: number) => boolean;
  readonly maxSubscriptions: number;
  /** Events a subscription may have queued before it is cut off; also the most missed changes a resume replays here. */
  readonly bufferSize: number;
}

export interface SubscriptionRegistry {
  /**
   * Opens a subscription: from a snapshot, or from `after`'s offsets. Rejects with
   * GW_SUBSCRIPTION_LIMIT when the instance serves `maxSubscriptions` already, and with the
   * snapshot's or the resume's error (GW_QUERY_BAD_TOKEN, GW_RESUME_TOO_FAR), after closing it.
   * For a resume with partitions owned elsewhere, CAUGHT_UP follows once each feed has polled once.
   */
  open(spec: SubscriptionSpec, after: Offsets | undefined): Promise<EventStream<ChangeEvent>>;
  /** Subscriptions that are open and started. */
  readonly active: ReadonlySet<Subscription>;
  /** Subscriptions counted against the limit, including those still starting. */
  readonly size: number;
  /**
   * Ends every subscription (the instance is stopping): after the events already queued, each
   * gets GW_INSTANCE_STOPPING with `details.token`, the token that covers every event before it.
   * Subscriptions still starting end so once started; new ones are refused with the same code.
   */
  close(): void;
}

/** The last event of a subscription the stopping instance ends: the token covers all before it. */
function stoppingEvent(subscription: Subscription): ChangeEvent {
  const token = tokenOf(subscription);
  const failure = new GatewayError('GW_INSTANCE_STOPPING', 'this instance is shutting down; subscribe again with `after` set to the token', {
    details: { token },
  });
  return { kind: 'OVERFLOW', key: null, row: null, token, failure };
}

export function createSubscriptionRegistry(options: SubscriptionRegistryOptions): SubscriptionRegistry {
  let size = 0;
  let closing = false;
  const active = new Set<Subscription>();

  const open = async (spec: SubscriptionSpec, after: Offsets | undefined): Promise<EventStream<ChangeEvent>> => {
    const { view, partitions } = spec;
    if (closing) throw new GatewayError('GW_INSTANCE_STOPPING', 'this instance is shutting down; subscribe on another instance');
    if (size >= options.maxSubscriptions) {
      throw new GatewayError('GW_SUBSCRIPTION_LIMIT', `this instance already serves ${options.maxSubscriptions} subscriptions`);
    }
    let unregister: () => void = () => undefined;
    const subscription: Subscription = {
      view,
      partitions,
      cursor: new Map(),
      held: [],
      feeding: new Set(),
      decide: spec.decide,
      stopped: false,
      stream: createEventStream<ChangeEvent>({
        capacity: options.bufferSize,
        tokenOf: (event) => event.token,
        overflowEvent: (token) => ({ kind: 'OVERFLOW', key: null, row: null, token: token ?? '' }),
        onClose: () => {
          size--;
          subscription.stopped = true;
          active.delete(subscription);
          unregister();
        },
      }),
    };
    size++;
    unregister = spec.register(subscription);
    try {
      let events: ChangeEvent[] = [];
      if (after) startFromToken(subscription, after);
      else events = await readSnapshot(subscription, spec.snapshot, spec.access);
      for (const event of events) subscription.stream.push(event);
      const held = subscription.held ?? [];
      subscription.held = undefined;
      for (const batch of held) deliverChanges(subscription, batch);
      const remote = partitions.filter((partition) => !options.servesLocally(view, partition));
      if (after) {
        // Resuming: the missed changes of local partitions come from this instance's buffer.
        replayRecentChanges(
          subscription,
          partitions.filter((p) => !remote.includes(p)),
          options,
        );
      }
      const caughtUp = () => subscription.stream.push({ kind: 'CAUGHT_UP', key: null, row: null, token: tokenOf(subscription) });
      // A fresh list is caught up with its snapshot; a resume once every feed has polled once.
      let waiting = remote.length;
      const polled = () => {
        waiting--;
        if (after && waiting === 0) caughtUp();
      };
      if ((!after && spec.announceSnapshotEnd) || (after && remote.length === 0)) caughtUp();
      active.add(subscription);
      if (closing) subscription.stream.end(stoppingEvent(subscription));
      for (const partition of remote) options.feeds.start(subscription, partition, polled);
    } catch (error) {
      void subscription.stream.return!();
      throw error;
    }
    return subscription.stream;
  };

  return {
    open,
    active,
    get size() {
      return size;
    },
    close() {
      closing = true;
      for (const subscription of active) subscription.stream.end(stoppingEvent(subscription));
    },
  };
}

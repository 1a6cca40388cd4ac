/**
 * Waits until local partitions have applied at least some offsets (consistency tokens). Woken by
 * the applied-batch events of `changes.ts`; bounded by a timeout that fails with GW_CONSISTENCY_TIMEOUT.
 */
import { GatewayError } from '../errors.ts';
import type { ChangeEvents } from './changes.ts';
import type { ViewStore } from './view-store.ts';

export interface OffsetWaiter {
  /** Resolves once every listed partition of the view has applied up to (below) its offset. */
  wait(viewId: string, required: Readonly<Record<string, string>> | undefined, timeoutMs: number): Promise<void>;
}

interface Pending {
  readonly viewId: string;
  readonly satisfied: () => boolean;
  readonly resolve: () => void;
}

export function createOffsetWaiter(stores: ReadonlyMap<string, ViewStore>, events: ChangeEvents): OffsetWaiter {
  const pending = new Set<Pending>();
  events.on('applied', (event) => {
    for (const entry of pending) {
      if (entry.viewId === event.view.id && entry.satisfied()) {
        pending.delete(entry);
        entry.resolve();
      }
    }
  });

  return {
    wait(viewId, required, timeoutMs) {
      const store = stores.get(viewId);
      if (!required || !store) return Promise.resolve();
      const satisfied = () =>
        Object.entries(required).every(([partition, offset]) => BigInt(store.nextOffset(Number(partition)) ?? '0') >= BigInt(offset));
      if (satisfied()) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const entry: Pending = {
          viewId,
          satisfied,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        };
        const timer = setTimeout(() => {
          pending.delete(entry);
          const behind = Object.entries(required)
            .filter(([partition, offset]) => BigInt(store.nextOffset(Number(partition)) ?? '0') < BigInt(offset))
            .map(([partition, offset]) => ({ partition: Number(partition), required: offset, applied: store.nextOffset(Number(partition)) ?? '0' }));
          reject(
            new GatewayError('GW_CONSISTENCY_TIMEOUT', `${store.view.topic} did not reach the required offsets within ${timeoutMs} ms`, {
              details: { topic: store.view.topic, behind },
            }),
          );
        }, timeoutMs);
        pending.add(entry);
      });
    },
  };
}

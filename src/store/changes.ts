/**
 * The "batch applied" event: ingest emits it once a partition batch (rows, index entries and the
 * partition's next offset) is durable in the store; subscriptions, the recent-changes buffer and
 * the offset waiter listen to it. Defined here, with the store, so that its listeners depend on
 * the store and not on ingest.
 */
import { EventEmitter } from 'node:events';
import type { ViewModel } from '../views/model.ts';
import type { AppliedChange } from './apply.ts';

/** Emitted as `applied` after a batch is durable in the store. */
export interface AppliedEvent {
  readonly view: ViewModel;
  readonly partition: number;
  readonly nextOffset: string;
  /** Per changed key, the row before and after (latest per key within the batch), in offset order. */
  readonly changes: readonly AppliedChange[];
}

/** The channel applied batches are announced on. Listeners run synchronously, in batch order. */
export type ChangeEvents = EventEmitter<{ applied: [AppliedEvent] }>;

export function createChangeEvents(): ChangeEvents {
  return new EventEmitter();
}

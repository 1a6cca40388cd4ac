/**
 * Dead letters: every record ingest does not apply is written to the dead-letter topic, one
 * envelope per record, so that it can be found, replayed or fixed at the producer. An envelope
 * always fits the topic: a key or value too large to copy is recorded by an excerpt, its size
 * and its SHA-256 digest, never dropped.
 *
 *   record key   = source key when it is at most KEY_COPY_BYTES, else "sha256:" hex(sha256(key))
 *   headers      = gw-code: <code>, gw-source: <topic>/<partition>/<offset>
 *   record value = UTF-8 JSON envelope:
 *     { "v": 2, "code": <registered error code>, "reason": <text>,
 *       "view": <view id>, "topic": <source topic>, "partition": <n>, "offset": <decimal string>,
 *       "key":   <base64 of the key, or of its first excerpt bytes> | null,
 *       "keyBytes": <n>, "keyTruncated": <bool>, "keySha256": <hex> (only when truncated),
 *       "value": <base64 of the value, or of its first excerpt bytes> | null,
 *       "valueBytes": <n>, "valueTruncated": <bool>, "valueSha256": <hex> | null }
 *
 * Envelopes are sent in chunks of at most `maxBytes` (the budget also bounds one envelope), so a
 * burst of rejects never makes one request the broker refuses. If the broker still refuses a
 * chunk as too large (a topic configured below the budget), its envelopes are sent one by one,
 * shrunk to MIN_EXCERPT_BYTES excerpts. Anything else the broker refuses fails the send with a
 * DeadLetterRefused: the caller's partition then waits and tries again.
 *
 * Once per record: the producer is idempotent (a send retried after a lost acknowledgement is
 * dropped by the broker), and the queue remembers, per source partition, the last offset whose
 * envelope the broker acknowledged, so a batch sent again after a refusal part-way through
 * starts after the chunks already written. Only a crash between the acknowledgement and the
 * store's commit of the batch can write an envelope twice (its gw-source header names the
 * record, so a reader can drop the repeat).
 */
import { createHash } from 'node:crypto';
import type { ErrorCode } from '../errors.ts';
import { ProduceError, type KafkaClient, type KafkaRecord, type OutgoingRecord, type RecordProducer } from '../kafka/client.ts';

/** Keys up to this size are the dead letter's own key; larger ones are replaced by a digest. */
const KEY_COPY_BYTES = 1024;
/** Excerpt kept of a value or key that does not fit whole. */
const EXCERPT_BYTES = 4096;
/** Excerpt kept when the broker refused even the normal envelope as too large. */
const MIN_EXCERPT_BYTES = 256;
/** Budget of such a shrunk envelope. */
const MIN_ENVELOPE_BYTES = 4096;
/** JSON and headers around the copied bytes, generously. */
const ENVELOPE_OVERHEAD = 1024;

export interface Reject {
  readonly record: KafkaRecord;
  readonly view: string;
  readonly code: ErrorCode;
  readonly reason: string;
}

/** The dead-letter topic did not take a chunk; nothing of the batch may be applied past it. */
export class DeadLetterRefused extends Error {
  constructor(message: string, options: { cause: unknown }) {
    super(message, options);
    this.name = 'DeadLetterRefused';
  }
}

export interface DeadLetterQueue {
  /** Resolves once the broker acknowledged every reject's envelope, in order. */
  send(rejects: readonly Reject[]): Promise<void>;
  stop(): Promise<void>;
}

export interface DeadLetterOptions {
  readonly kafka: KafkaClient;
  readonly topic: string;
  /** Largest request (and so envelope) sent, in bytes; at most the topic's max.message.bytes. */
  readonly maxBytes: number;
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
/** Bytes of base64 text for n raw bytes. */
const base64Length = (n: number) => Math.ceil(n / 3) * 4;

/** Builds one envelope whose size stays within `budget`, copying key and value whole where they fit. */
export function envelope(reject: Reject, budget: number, excerptBytes = EXCERPT_BYTES): OutgoingRecord {
  const { record } = reject;
  const key = record.key;
  const value = record.value;
  const keyBytes = key?.length ?? 0;
  const valueBytes = value?.length ?? 0;
  const reason = reject.reason.length > MIN_EXCERPT_BYTES * 2 ? `${reject.reason.slice(0, MIN_EXCERPT_BYTES * 2)}…` : reject.reason;
  // Room for the copied bytes (base64) once the fixed fields are written; digests included.
  const room = Math.max(0, budget - ENVELOPE_OVERHEAD - Buffer.byteLength(reason) - Buffer.byteLength(reject.view) - record.topic.length);
  // Whole copies when both fit; otherwise excerpts (a too-large key is as hostile as a value),
  // each at most half the room.
  const whole = base64Length(keyBytes) + base64Length(valueBytes) <= room;
  const excerpt = Math.max(0, Math.min(excerptBytes, Math.floor(((room / 2) * 3) / 4)));
  const keyCut = !whole && keyBytes > excerpt;
  const valueCut = !whole && valueBytes > excerpt;
  const body = {
    v: 2,
    code: reject.code,
    reason,
    view: reject.view,
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    key: key === null ? null : (keyCut ? key.subarray(0, excerpt) : key).toString('base64'),
    keyBytes,
    keyTruncated: keyCut,
    ...(keyCut && key ? { keySha256: sha256(key) } : {}),
    value: value === null ? null : (valueCut ? value.subarray(0, excerpt) : value).toString('base64'),
    valueBytes,
    valueTruncated: valueCut,
    valueSha256: value === null ? null : sha256(value),
  };
  return {
    key: key === null ? null : keyBytes <= KEY_COPY_BYTES ? key : `sha256:${sha256(key)}`,
    value: JSON.stringify(body),
    headers: { 'gw-code': reject.code, 'gw-source': `${record.topic}/${record.partition}/${record.offset}` },
  };
}

const sizeOf = (record: OutgoingRecord) =>
  (typeof record.value === 'string' ? Buffer.byteLength(record.value) : (record.value?.length ?? 0)) +
  (typeof record.key === 'string' ? Buffer.byteLength(record.key) : (record.key?.length ?? 0)) +
  200;

/** Splits envelopes into consecutive chunks of at most `maxBytes` each (one envelope at least). */
export function chunk(records: readonly OutgoingRecord[], maxBytes: number): OutgoingRecord[][] {
  const chunks: OutgoingRecord[][] = [];
  let current: OutgoingRecord[] = [];
  let bytes = 0;
  for (const record of records) {
    const size = sizeOf(record);
    if (current.length > 0 && bytes + size > maxBytes) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(record);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

export function createDeadLetterQueue(options: DeadLetterOptions): DeadLetterQueue {
  let producer: Promise<RecordProducer> | undefined;
  /** Per source "topic/partition": the last offset whose envelope the broker acknowledged. */
  const written = new Map<string, bigint>();
  // Few client retries: the send runs inside the consume loop, which the partition's wait-and-retry covers.
  const connect = () =>
    (producer ??= options.kafka.producer({ retries: 2, idempotent: true }).catch((error: unknown) => {
      producer = undefined;
      throw error;
    }));
  const refused = (error: unknown) =>
    new DeadLetterRefused(`the dead-letter topic ${options.topic} refused records: ${(error as Error).message}`, { cause: error });

  const sendChunk = async (records: OutgoingRecord[], rejects: readonly Reject[]): Promise<void> => {
    const client = await connect().catch((error: unknown) => {
      throw refused(error);
    });
    try {
      await client.send(options.topic, records);
    } catch (error) {
      if (!(error instanceof ProduceError && error.tooLarge)) throw refused(error);
      // The topic takes less than the budget: one by one, with the smallest excerpts.
      for (const reject of rejects) {
        await client.send(options.topic, [envelope(reject, MIN_ENVELOPE_BYTES, MIN_EXCERPT_BYTES)]).catch((single: unknown) => {
          throw refused(single);
        });
      }
    }
  };

  return {
    async send(all) {
      const rejects = all.filter((reject) => {
        const done = written.get(`${reject.record.topic}/${reject.record.partition}`);
        return done === undefined || BigInt(reject.record.offset) > done;
      });
      const records = rejects.map((reject) => envelope(reject, options.maxBytes));
      let from = 0;
      for (const part of chunk(records, options.maxBytes)) {
        const sent = rejects.slice(from, from + part.length);
        await sendChunk(part, sent);
        for (const reject of sent) written.set(`${reject.record.topic}/${reject.record.partition}`, BigInt(reject.record.offset));
        from += part.length;
      }
    },
    async stop() {
      const started = producer;
      producer = undefined;
      await (await started?.catch(() => undefined))?.stop();
    },
  };
}

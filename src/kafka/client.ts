/**
 * The one module that imports KafkaJS (with ./security.ts, its SASL and TLS options). Everything
 * else sees the small interfaces below, so the client library can be replaced in one place
 * (KafkaJS has had no release since 2023).
 *
 * Offsets are strings of decimal digits throughout, as Kafka offsets exceed 2^53 in principle.
 *
 * One unit, longer than most files, on purpose: every KafkaJS type and behaviour (admin calls,
 * the custom assignor, producer errors, the consume loop's pause and seek) stays behind this
 * file, so replacing the client library touches nothing else.
 */
import kafkajs from 'kafkajs';
import type { Assigner, Consumer, Kafka, KafkaMessage, PartitionAssigner, Producer } from 'kafkajs';
import type { KafkaSecurityConfig } from '../config.ts';
import type { Logger } from '../log.ts';
import { decompressLz4, decompressSnappy, decompressZstd } from './codecs.ts';
import { kafkaLogger, kafkaSasl, kafkaSsl, probeTls, securityFailure, socketFactory } from './security.ts';

const { Kafka: KafkaClass, logLevel: KafkaLogLevel, Partitioners, AssignerProtocol, CompressionCodecs, CompressionTypes } = kafkajs;

// Batches compressed by other producers must be readable (KafkaJS itself ships gzip only).
const decompressOnly = (name: string, decompress: (buffer: Buffer) => Buffer) => () => ({
  compress: async () => {
    throw new Error(`${name} compression is not supported by the gateway's producers`);
  },
  decompress: async (buffer: Buffer) => decompress(buffer),
});
CompressionCodecs[CompressionTypes.LZ4] = decompressOnly('LZ4', decompressLz4);
CompressionCodecs[CompressionTypes.Snappy] = decompressOnly('Snappy', decompressSnappy);
CompressionCodecs[CompressionTypes.ZSTD] = decompressOnly('ZSTD', decompressZstd);

// KafkaJS 2.2.4's request queue schedules `setTimeout` with a negative delay when no throttle is
// pending; Node >= 23 warns about it on every connection (the timer behaves as 1 ms, as intended).
// Only that warning is dropped; every other warning still prints.
const printWarning = process.listeners('warning');
if (printWarning.length > 0 && !process.listeners('warning').some((listener) => listener.name === 'kafkaWarningFilter')) {
  process.removeAllListeners('warning');
  process.on('warning', function kafkaWarningFilter(warning) {
    if (warning.name === 'TimeoutNegativeWarning') return;
    for (const listener of printWarning) listener.call(process, warning);
  });
}

export interface KafkaRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
}

export interface RecordBatch {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly KafkaRecord[];
  /** Offset of the next record the broker will append (the partition's end offset). */
  readonly highWatermark: string;
}

export interface TopicSpec {
  readonly topic: string;
  readonly partitions: number;
  readonly compacted: boolean;
}

export interface OutgoingRecord {
  readonly key: string | Buffer | null;
  readonly value: string | Buffer | null;
  readonly headers?: Record<string, string>;
  /** Explicit partition; otherwise the Java-compatible murmur2 partitioner decides. */
  readonly partition?: number;
}

export interface ProducedRecord {
  readonly topic: string;
  readonly partition: number;
  /** Offset of the first record of the request in this partition. */
  readonly baseOffset: string;
}

export interface RecordProducer {
  /** Sends and waits for every in-sync replica. Fails with a ProduceError. */
  send(topic: string, records: readonly OutgoingRecord[]): Promise<ProducedRecord[]>;
  stop(): Promise<void>;
}

/** A send the broker refused or that could not reach it, with what a caller needs to decide. */
export class ProduceError extends Error {
  /** The broker refused a record or request as too large (MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE). */
  readonly tooLarge: boolean;
  /** Whether the same send may succeed later (the client's own retries are exhausted). */
  readonly retriable: boolean;
  constructor(message: string, options: { tooLarge: boolean; retriable: boolean; cause: unknown }) {
    super(message, { cause: options.cause });
    this.name = 'ProduceError';
    this.tooLarge = options.tooLarge;
    this.retriable = options.retriable;
  }
}

const TOO_LARGE = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD']);

/** The broker's error type of a KafkaJS error, looking through retry wrappers. */
function brokerErrorType(error: unknown): string | undefined {
  for (let current = error as { type?: unknown; cause?: unknown } | undefined; current; current = current.cause as typeof current) {
    if (typeof current.type === 'string') return current.type;
  }
  return undefined;
}

export interface ProducerOptions {
  /**
   * Retries before a send fails (default 8, with backoff up to 5 s). Callers that must not hold
   * other work for long (dead letters, sent from the consume loop) use fewer.
   */
  readonly retries?: number;
  /**
   * Broker-side deduplication of retried sends (producer id and sequence numbers): a send retried
   * after a lost acknowledgement is not written twice. Needs Write on the topic (Kafka 3.0 on) or
   * IdempotentWrite on the cluster.
   */
  readonly idempotent?: boolean;
}

export interface PartitionOffsets {
  readonly partition: number;
  /** First offset still in the log. */
  readonly low: string;
  /** Next offset to be written. */
  readonly high: string;
}

/** One member of a consumer group as the group coordinator describes it. */
export interface GroupMemberInfo {
  readonly memberId: string;
  /** The member's assignor userData from its join (undefined if it sent none). */
  readonly userData: Buffer | undefined;
  readonly assignment: Readonly<Record<string, readonly number[]>>;
}

export interface GroupInfo {
  readonly state: string;
  readonly members: readonly GroupMemberInfo[];
}

/**
 * A custom partition assignor: each member sends `userData` when it joins; the elected leader
 * calls `assign` with every member's userData and the topics' partition counts.
 */
export interface GroupAssignor {
  readonly protocol: string;
  userData(): Buffer;
  assign(
    members: ReadonlyArray<{ memberId: string; userData: Buffer | undefined }>,
    partitionCounts: Readonly<Record<string, number>>,
  ): Record<string, Record<string, number[]>>;
}

export interface ConsumerOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  /**
   * Where to start reading a newly assigned partition: the store's next offset, or undefined to
   * read from the start of the log. Records below it that still arrive are skipped by the caller.
   */
  readonly startOffset: (topic: string, partition: number) => string | undefined;
  /**
   * Applies one partition's records; the next batch for that partition waits for it. Returning
   * `{ retryAfterMs }` pauses only this partition: after that delay it is read again from
   * `startOffset`, while the consumer's other partitions go on.
   */
  readonly onBatch: (batch: RecordBatch) => Promise<undefined | BatchRetry>;
  readonly onAssignment?: (assignment: ReadonlyMap<string, readonly number[]>) => void;
  readonly onCrash?: (error: Error, willRestart: boolean) => void;
  readonly maxBytesPerPartition?: number;
  /** Custom assignor; KafkaJS's round robin without it. */
  readonly assignor?: GroupAssignor;
  /** How soon the group coordinator declares a silent member dead (default 10 s). */
  readonly sessionTimeoutMs?: number;
}

/** What `onBatch` returns when its partition must wait (for example for the dead-letter topic). */
export interface BatchRetry {
  readonly retryAfterMs: number;
}

export interface RecordConsumer {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface KafkaClientOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly logger: Logger;
  /** SASL and TLS for every connection (admin, producers, consumers); undefined: PLAINTEXT. */
  readonly security?: KafkaSecurityConfig;
}

export interface KafkaClient {
  /** Creates the topics that do not exist yet; returns the partition count of every topic. */
  ensureTopics(specs: readonly TopicSpec[]): Promise<Map<string, number>>;
  offsets(topic: string): Promise<PartitionOffsets[]>;
  /** The group's members, their assignor userData and their assignments. */
  describeGroup(groupId: string): Promise<GroupInfo>;
  producer(options?: ProducerOptions): Promise<RecordProducer>;
  consumer(options: ConsumerOptions): RecordConsumer;
  stop(): Promise<void>;
}

/**
 * Retries an admin call while the broker answers with a retriable error (for example "not the
 * leader" just after a topic was created), driven by KafkaJS's `retriable` flag.
 */
async function retrying<T>(call: () => Promise<T>, attempts = 20): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      const retriable = (error as { retriable?: boolean }).retriable === true;
      if (!retriable || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.min(100 * attempt, 1000)));
    }
  }
}

function kafkaAssignor(assignor: GroupAssignor): PartitionAssigner {
  return ({ cluster }) => {
    const assigner: Assigner = {
      name: assignor.protocol,
      version: 1,
      async assign({ members, topics }) {
        await cluster.refreshMetadataIfNecessary();
        const counts: Record<string, number> = {};
        for (const topic of topics) counts[topic] = cluster.findTopicPartitionMetadata(topic).length;
        const decoded = members.map((member) => {
          const metadata = AssignerProtocol.MemberMetadata.decode(member.memberMetadata);
          return { memberId: member.memberId, userData: metadata?.userData?.length ? metadata.userData : undefined };
        });
        const assignment = assignor.assign(decoded, counts);
        return members.map((member) => ({
          memberId: member.memberId,
          memberAssignment: AssignerProtocol.MemberAssignment.encode({
            version: 1,
            assignment: assignment[member.memberId] ?? {},
            userData: Buffer.alloc(0),
          }),
        }));
      },
      protocol({ topics }) {
        return {
          name: assignor.protocol,
          metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: assignor.userData() }),
        };
      },
    };
    return assigner;
  };
}

function toRecord(topic: string, partition: number, message: KafkaMessage): KafkaRecord {
  return { topic, partition, offset: message.offset, key: message.key ?? null, value: message.value ?? null };
}

export function createKafkaClient(options: KafkaClientOptions): KafkaClient {
  const { security, logger } = options;
  const password = security?.sasl?.password;
  // The password as written and as it appears inside JSON strings. Short strings occur in
  // ordinary text; a real password is not that short.
  const forms = password && password.length >= 4 ? [...new Set([password, JSON.stringify(password).slice(1, -1)])] : [];
  const scrub = (text: string): string => forms.reduce((result, form) => result.split(form).join('[redacted]'), text);
  const ssl = kafkaSsl(security);
  const sasl = kafkaSasl(security);
  if (security) {
    const tlsInfo = security.tls
      ? `TLS${security.tls.ca ? ' (KAFKA_TLS_CA_FILE)' : ''}${security.tls.cert ? ' with a client certificate' : ''}`
      : 'no TLS';
    const saslInfo = security.sasl ? `SASL ${security.sasl.mechanism} as ${security.sasl.username}` : 'no SASL';
    logger.info(`kafka: ${security.protocol}: ${tlsInfo}, ${saslInfo}`);
    if (security.tls?.insecure) {
      logger.warn("kafka: KAFKA_TLS_INSECURE=true: the brokers' certificates are not verified; for development only");
    }
    if (security.protocol === 'SASL_PLAINTEXT' && security.sasl?.mechanism === 'PLAIN') {
      logger.warn('kafka: SASL PLAIN over SASL_PLAINTEXT sends the password unencrypted');
    }
  }
  const kafka: Kafka = new KafkaClass({
    clientId: options.clientId,
    brokers: [...options.brokers],
    logLevel: KafkaLogLevel.WARN,
    logCreator: kafkaLogger(logger, forms.length > 0 ? scrub : undefined),
    retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 5000 },
    ...(ssl ? { ssl, socketFactory } : {}),
    ...(sasl ? { sasl } : {}),
  });
  /** Rethrows a SASL or TLS failure as its coded error, anything else as it is. */
  const rethrow = (error: unknown): never => {
    throw securityFailure(error, security, scrub) ?? error;
  };
  /**
   * With TLS, the bootstrap brokers are probed in turn until one answers: KafkaJS retries a
   * failed handshake like an unreachable broker (for a quarter of a minute and more), while a
   * certificate problem is not transient.
   */
  const checkTls = async () => {
    if (!ssl) return;
    for (const broker of options.brokers) {
      const result = await probeTls(broker, ssl, options.clientId);
      if (result === 'answered') return;
      if (result instanceof Error) rethrow(result);
    }
  };
  const admin = kafka.admin();
  let adminConnected: Promise<void> | undefined;
  const connectAdmin = () =>
    (adminConnected ??= checkTls()
      .then(() => admin.connect())
      .catch(rethrow));
  const started: Array<{ stop(): Promise<void> }> = [];

  return {
    async ensureTopics(specs) {
      await connectAdmin();
      const existing = new Set(await admin.listTopics());
      const missing = specs.filter((spec) => !existing.has(spec.topic));
      if (missing.length > 0) {
        await admin.createTopics({
          waitForLeaders: true,
          topics: missing.map((spec) => ({
            topic: spec.topic,
            numPartitions: spec.partitions,
            replicationFactor: -1,
            configEntries: spec.compacted ? [{ name: 'cleanup.policy', value: 'compact' }] : [],
          })),
        });
      }
      const metadata = await retrying(() => admin.fetchTopicMetadata({ topics: specs.map((spec) => spec.topic) }));
      return new Map(metadata.topics.map((topic) => [topic.name, topic.partitions.length]));
    },

    async offsets(topic) {
      await connectAdmin();
      const offsets = await retrying(() => admin.fetchTopicOffsets(topic));
      return offsets.map((entry) => ({ partition: entry.partition, low: entry.low, high: entry.high }));
    },

    async describeGroup(groupId) {
      await connectAdmin();
      const { groups } = await retrying(() => admin.describeGroups([groupId]));
      const group = groups[0];
      if (!group) return { state: 'Unknown', members: [] };
      return {
        state: group.state,
        members: group.members.map((member) => {
          const metadata = member.memberMetadata?.length ? AssignerProtocol.MemberMetadata.decode(member.memberMetadata) : null;
          const assignment = member.memberAssignment?.length ? AssignerProtocol.MemberAssignment.decode(member.memberAssignment) : null;
          return {
            memberId: member.memberId,
            userData: metadata?.userData?.length ? metadata.userData : undefined,
            assignment: assignment?.assignment ?? {},
          };
        }),
      };
    },

    async producer(producerOptions = {}) {
      const producer: Producer = kafka.producer({
        createPartitioner: Partitioners.DefaultPartitioner,
        allowAutoTopicCreation: false,
        ...(producerOptions.retries === undefined ? {} : { retry: { retries: producerOptions.retries, initialRetryTime: 100, maxRetryTime: 1000 } }),
        // One request in flight keeps per-partition order across retries (for one caller at a
        // time: concurrent send() calls may reach the log out of call order); a retried duplicate
        // is harmless on a compacted, keyed topic (the latest value per key wins), and callers
        // writing to other topics ask for idempotence.
        idempotent: producerOptions.idempotent ?? false,
        maxInFlightRequests: 1,
      });
      await producer.connect().catch(rethrow);
      const handle = {
        async send(topic: string, records: readonly OutgoingRecord[]): Promise<ProducedRecord[]> {
          let result: Awaited<ReturnType<Producer['send']>>;
          try {
            result = await producer.send({
              topic,
              acks: -1,
              messages: records.map((record) => ({
                key: record.key,
                value: record.value,
                headers: record.headers,
                partition: record.partition,
              })),
            });
          } catch (error) {
            const type = brokerErrorType(error);
            const tooLarge = type !== undefined && TOO_LARGE.has(type);
            const message = `sending ${records.length} record(s) to ${topic} failed: ${type ?? (error as Error).message}`;
            throw new ProduceError(message, { tooLarge, retriable: !tooLarge, cause: error });
          }
          return result.map((entry) => ({
            topic: entry.topicName,
            partition: entry.partition,
            baseOffset: entry.baseOffset ?? '-1',
          }));
        },
        stop: () => producer.disconnect(),
      };
      started.push(handle);
      return handle;
    },

    consumer(consumerOptions) {
      const consumer: Consumer = kafka.consumer({
        groupId: consumerOptions.groupId,
        // KafkaJS parses a whole fetch response in one go, on the event loop, and the parse can
        // share a turn with an ingest step: the fetch size bounds how long a catch-up blocks
        // queries. 8 MB took 50-60 ms of CPU per response; with 512 kB, parse and step together
        // stayed under 50 ms of CPU at the same ingest rate (BENCHMARKS.md, "Consumer fetch
        // size" and "Steps, fetches and background priority").
        maxBytesPerPartition: consumerOptions.maxBytesPerPartition ?? 512 << 10,
        maxBytes: 512 << 10,
        maxWaitTimeInMs: 250,
        sessionTimeout: consumerOptions.sessionTimeoutMs ?? 10_000,
        heartbeatInterval: Math.min(1_000, Math.floor((consumerOptions.sessionTimeoutMs ?? 10_000) / 3)),
        rebalanceTimeout: 30_000,
        ...(consumerOptions.assignor ? { partitionAssigners: [kafkaAssignor(consumerOptions.assignor)] } : {}),
      });
      const retryTimers = new Set<NodeJS.Timeout>();
      let assigned = new Map<string, number[]>();
      consumer.on(consumer.events.GROUP_JOIN, async (event) => {
        const assignment = new Map<string, number[]>(Object.entries(event.payload.memberAssignment));
        assigned = assignment;
        for (const [topic, partitions] of assignment) {
          const lows = new Map((await retrying(() => admin.fetchTopicOffsets(topic))).map((entry) => [entry.partition, entry.low]));
          for (const partition of partitions) {
            const offset = consumerOptions.startOffset(topic, partition) ?? lows.get(partition) ?? '0';
            consumer.seek({ topic, partition, offset });
          }
        }
        consumerOptions.onAssignment?.(assignment);
      });
      consumer.on(consumer.events.CRASH, (event) => {
        consumerOptions.onCrash?.(securityFailure(event.payload.error, security, scrub) ?? event.payload.error, event.payload.restart);
      });
      const handle = {
        async start() {
          await connectAdmin();
          await consumer.connect().catch(rethrow);
          await consumer.subscribe({ topics: [...consumerOptions.topics], fromBeginning: true });
          await consumer.run({
            // Offsets live in the store, written with the rows; the group only assigns partitions.
            autoCommit: false,
            eachBatchAutoResolve: false,
            eachBatch: async ({ batch, isRunning, isStale, resolveOffset, pause }) => {
              if (!isRunning() || isStale()) return;
              const retry = await consumerOptions.onBatch({
                topic: batch.topic,
                partition: batch.partition,
                records: batch.messages.map((message) => toRecord(batch.topic, batch.partition, message)),
                highWatermark: batch.highWatermark,
              });
              if (retry) {
                // Only this partition waits; it is read again from the caller's start offset.
                const resume = pause();
                const timer = setTimeout(() => {
                  retryTimers.delete(timer);
                  const { topic, partition } = batch;
                  if (!assigned.get(topic)?.includes(partition)) return;
                  const offset = consumerOptions.startOffset(topic, partition);
                  if (offset !== undefined) consumer.seek({ topic, partition, offset });
                  resume();
                }, retry.retryAfterMs);
                retryTimers.add(timer);
                return;
              }
              // Resolving moves KafkaJS's fetch position; nothing is committed to the group.
              resolveOffset(batch.lastOffset());
            },
          });
        },
        stop: () => {
          for (const timer of retryTimers) clearTimeout(timer);
          retryTimers.clear();
          return consumer.disconnect();
        },
      };
      started.push(handle);
      return handle;
    },

    async stop() {
      for (const handle of started.splice(0).reverse()) await handle.stop().catch(() => undefined);
      if (adminConnected) await admin.disconnect().catch(() => undefined);
    },
  };
}

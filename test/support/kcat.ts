/**
 * Reads a topic with kcat (librdkafka) from its first offset to its end, outside any consumer
 * group: every record once, in offset order per partition. A group member can be handed its
 * partitions a second time by a rebalance and so deliver a record twice, which a test that
 * counts records must not mistake for a duplicate in the topic.
 */
import { execFile } from 'node:child_process';
import { brokers } from './gateway.ts';
import { waitFor } from './wait.ts';

export interface TopicRecord {
  readonly partition: number;
  readonly offset: bigint;
  /** The value as text; the topics read this way hold UTF-8 JSON values without newlines. */
  readonly value: string;
}

function readToEnd(topic: string): Promise<TopicRecord[]> {
  return new Promise((resolve, reject) => {
    execFile(
      'kcat',
      ['-C', '-b', brokers(), '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%p\t%o\t%s\n'],
      { maxBuffer: 256 << 20, timeout: 30_000 },
      (error, stdout) => {
        if (error) return reject(error);
        const records = stdout
          .split('\n')
          .filter((line) => line.length > 0)
          .map((line) => {
            const [partition, offset, ...value] = line.split('\t');
            return { partition: Number(partition), offset: BigInt(offset!), value: value.join('\t') };
          });
        resolve(records);
      },
    );
  });
}

/** Every record of `topic`, read again until there are at least `atLeast` (the writes are acknowledged, so this is at once in practice). */
export async function readTopic(topic: string, atLeast: number): Promise<TopicRecord[]> {
  return waitFor(
    async () => {
      const records = await readToEnd(topic);
      return records.length >= atLeast ? records : undefined;
    },
    { what: `${atLeast} records in ${topic}`, timeoutMs: 30_000, intervalMs: 200 },
  );
}

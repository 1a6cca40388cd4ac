/*
 * Kafka Streams ingest baseline for `npm run bench` (test/bench/kafka-streams.ts).
 *
 * Materializes each given topic into a KTable backed by a RocksDB store, as a Kafka Streams
 * application would (builder.table(topic, Materialized.as(store)), String keys, raw byte values,
 * topology.optimization=all so the source topic is the store's changelog), and exits once every
 * input partition has been processed up to the end offset given on the command line. It prints
 * one JSON line on stdout:
 *
 *   {"records":N,"restored":N,"wallMs":N,"startMs":N,"firstRecordMs":N,"cpuSeconds":N,
 *    "threads":N,"guarantee":"...","kafkaStreams":"3.9.2","rocksdb":"..."}
 *
 * records: records the topology processed; restored: records restored into the stores before
 * processing (expected 0 with a fresh application.id); wallMs: JVM start to caught up; startMs:
 * JVM start to KafkaStreams.start(); cpuSeconds: CPU time of the whole JVM (all threads) until
 * caught up. Everything else (logs) goes to stderr.
 *
 * Completion is seen by a counting processor added as a second child of each table's source
 * node: it is called for every record right after the KTable's own processor has put it into
 * the store (through the record cache, which holds the newest values until the next commit
 * flushes them to RocksDB; reads see the cache, so the table is current), and it keeps the
 * highest offset seen per partition.
 *
 * Usage:
 *   java -cp 'lib/*:classes' KTableBench --brokers HOST:PORT --app-id ID --state-dir DIR
 *        --threads N [--guarantee at_least_once|exactly_once_v2]
 *        --end TOPIC:PARTITION=END_OFFSET [--end ...]
 */
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.AppInfoParser;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TopologyDescription;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.processor.StateRestoreListener;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;

public final class KTableBench {
  /** Per input partition: the offset it must reach and whether it has. */
  private static final class Progress {
    final long lastOffset; // end offset - 1: the last record of the partition
    volatile long seen = -1; // highest offset processed
    volatile boolean done;

    Progress(long end) {
      this.lastOffset = end - 1;
      this.done = end <= 0;
    }
  }

  private static final Map<TopicPartition, Progress> PROGRESS = new LinkedHashMap<>();
  private static final AtomicInteger PENDING = new AtomicInteger();
  private static final AtomicLong RECORDS = new AtomicLong();
  private static final AtomicLong RESTORED = new AtomicLong();
  private static final AtomicLong FIRST_RECORD_NANOS = new AtomicLong();
  private static final CountDownLatch CAUGHT_UP = new CountDownLatch(1);

  /** Counts records and marks a partition done when its last offset has been processed. */
  private static final class Counter implements Processor<String, byte[], Void, Void> {
    private ProcessorContext<Void, Void> context;

    @Override
    public void init(ProcessorContext<Void, Void> context) {
      this.context = context;
    }

    @Override
    public void process(Record<String, byte[]> record) {
      if (RECORDS.getAndIncrement() == 0) FIRST_RECORD_NANOS.compareAndSet(0, System.nanoTime());
      var meta = context.recordMetadata().orElseThrow();
      var progress = PROGRESS.get(new TopicPartition(meta.topic(), meta.partition()));
      if (progress == null) return;
      if (meta.offset() > progress.seen) progress.seen = meta.offset();
      if (!progress.done && meta.offset() >= progress.lastOffset) {
        progress.done = true;
        if (PENDING.decrementAndGet() == 0) CAUGHT_UP.countDown();
      }
    }
  }

  private static final class Restores implements StateRestoreListener {
    @Override
    public void onRestoreStart(TopicPartition partition, String store, long start, long end) {}

    @Override
    public void onBatchRestored(TopicPartition partition, String store, long batchEnd, long restored) {
      RESTORED.addAndGet(restored);
    }

    @Override
    public void onRestoreEnd(TopicPartition partition, String store, long restored) {}
  }

  private static String storeName(String topic) {
    return topic.replaceAll("[^A-Za-z0-9_-]", "_") + "-store";
  }

  public static void main(String[] args) throws Exception {
    String brokers = null, appId = null, stateDir = null, guarantee = StreamsConfig.AT_LEAST_ONCE;
    int threads = 1;
    List<String> topics = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      String value = i + 1 < args.length ? args[i + 1] : null;
      switch (args[i]) {
        case "--brokers" -> brokers = value;
        case "--app-id" -> appId = value;
        case "--state-dir" -> stateDir = value;
        case "--threads" -> threads = Integer.parseInt(value);
        case "--guarantee" -> guarantee = value;
        case "--end" -> {
          // TOPIC:PARTITION=END
          int colon = value.lastIndexOf(':'), equals = value.lastIndexOf('=');
          String topic = value.substring(0, colon);
          int partition = Integer.parseInt(value.substring(colon + 1, equals));
          long end = Long.parseLong(value.substring(equals + 1));
          if (!topics.contains(topic)) topics.add(topic);
          var progress = new Progress(end);
          PROGRESS.put(new TopicPartition(topic, partition), progress);
          if (!progress.done) PENDING.incrementAndGet();
        }
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
      i++;
    }
    if (brokers == null || appId == null || stateDir == null || topics.isEmpty()) {
      throw new IllegalArgumentException("need --brokers, --app-id, --state-dir and at least one --end");
    }

    Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
    props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, threads);
    props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, guarantee);
    // The source topic is the store's changelog: no changelog topic, no second write per record.
    props.put(StreamsConfig.TOPOLOGY_OPTIMIZATION_CONFIG, StreamsConfig.OPTIMIZE);
    props.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
    props.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.ByteArraySerde.class);
    // Everything else at Kafka Streams' defaults (commit interval, record cache, RocksDB config).

    StreamsBuilder builder = new StreamsBuilder();
    for (String topic : topics) {
      builder.table(
          topic,
          Consumed.with(Serdes.String(), Serdes.ByteArray()).withName("source-" + storeName(topic)),
          Materialized.as(storeName(topic)));
    }
    Topology topology = builder.build(props);
    // The counter hangs off the source node itself, next to the KTable's processor: below that
    // processor it would only see what the record cache forwards (deduplicated, at commit).
    for (String topic : topics) {
      topology.addProcessor("count-" + storeName(topic), Counter::new, sourceNode(topology, topic));
    }
    System.err.println(topology.describe());

    long jvmStartMs = ManagementFactory.getRuntimeMXBean().getStartTime();
    KafkaStreams streams = new KafkaStreams(topology, props);
    streams.setGlobalStateRestoreListener(new Restores());
    streams.setUncaughtExceptionHandler(error -> {
      System.err.println("stream thread failed: " + error);
      error.printStackTrace();
      System.exit(2);
      return null;
    });
    long startMs = System.currentTimeMillis() - jvmStartMs;
    long startNanos = System.nanoTime();
    streams.start();
    Thread reporter = new Thread(() -> {
      try {
        while (true) {
          Thread.sleep(5000);
          var behind = new StringBuilder();
          PROGRESS.forEach((partition, progress) -> {
            if (!progress.done) behind.append(' ').append(partition).append('@').append(progress.seen).append('/').append(progress.lastOffset);
          });
          System.err.println("progress: " + RECORDS.get() + " records, state " + streams.state() + ", behind:" + behind);
        }
      } catch (InterruptedException stop) {
        // caught up
      }
    }, "progress");
    reporter.setDaemon(true);
    reporter.start();
    if (PENDING.get() > 0) CAUGHT_UP.await();
    long wallMs = startMs + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
    long firstNanos = FIRST_RECORD_NANOS.get();
    long firstRecordMs = firstNanos == 0 ? wallMs : startMs + TimeUnit.NANOSECONDS.toMillis(firstNanos - startNanos);
    var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    double cpuSeconds = os.getProcessCpuTime() / 1e9;
    System.out.printf(
        "{\"records\":%d,\"restored\":%d,\"wallMs\":%d,\"startMs\":%d,\"firstRecordMs\":%d,\"cpuSeconds\":%.3f,"
            + "\"threads\":%d,\"guarantee\":\"%s\",\"kafkaStreams\":\"%s\",\"rocksdb\":\"%s\"}%n",
        RECORDS.get(), RESTORED.get(), wallMs, startMs, firstRecordMs, cpuSeconds, threads, guarantee,
        AppInfoParser.getVersion(), rocksdbVersion());
    System.out.flush();
    streams.close(Duration.ofSeconds(10));
    System.exit(0);
  }

  /** Name of the source node that reads `topic`. */
  private static String sourceNode(Topology topology, String topic) {
    for (var subtopology : topology.describe().subtopologies()) {
      for (var node : subtopology.nodes()) {
        if (node instanceof TopologyDescription.Source source && source.topicSet() != null && source.topicSet().contains(topic)) {
          return source.name();
        }
      }
    }
    throw new IllegalStateException("no source node reads " + topic);
  }

  private static String rocksdbVersion() {
    try {
      var version = org.rocksdb.RocksDB.rocksdbVersion();
      return version.getMajor() + "." + version.getMinor() + "." + version.getPatch();
    } catch (Throwable error) {
      return "unknown";
    }
  }
}

package io.kmaint.example;

import java.time.Duration;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * A plain KafkaConsumer that goes through maintenance windows: on a drain it stops taking records,
 * finishes the one in hand, commits exactly what finished, closes (leaving the group) and reports
 * maintenance; on resume it creates a new consumer, which continues from the committed offsets. Prints
 * "processed <value>" for each record it finished, on stdout; everything else goes to stderr.
 */
public final class Consumer {
    private final AgentClient agent;
    private final Properties props = new Properties();
    private final List<String> topics;
    private final long workMs;
    private volatile AgentClient.Desired desired;
    private volatile boolean stopping;

    private Consumer(Map<String, String> env) {
        agent = new AgentClient(env.getOrDefault("KMAINT_AGENT_URL", "http://127.0.0.1:8089"));
        topics = Arrays.asList(env.getOrDefault("KAFKA_TOPICS", "test-topic").split(","));
        workMs = Long.parseLong(env.getOrDefault("WORK_TIME_MS", "0"));
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, env.getOrDefault("KAFKA_BROKERS", "kafka:29092"));
        props.put(ConsumerConfig.GROUP_ID_CONFIG, env.getOrDefault("KAFKA_CONSUMER_GROUP", "java-consumer"));
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, env.getOrDefault("POD_NAME", "java-consumer"));
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    }

    public static void main(String[] args) throws Exception {
        Consumer c = new Consumer(System.getenv());
        Thread main = Thread.currentThread();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            c.stopping = true;
            try { main.join(20_000); } catch (InterruptedException ignored) { }
        }));
        Thread follower = new Thread(c::follow, "agent-follower");
        follower.setDaemon(true);
        follower.start();
        c.run();
    }

    /** Keeps {@link #desired} up to date by long-polling the agent. */
    private void follow() {
        long generation = -1;
        while (true) {
            try {
                AgentClient.Desired d = agent.poll(generation);
                generation = d.generation();
                desired = d;
            } catch (Exception e) {
                // toString, not getMessage: a refused connection or a timeout has no message, only a type.
                System.err.println("agent poll failed, retrying: " + e);
                sleep(1000);
            }
        }
    }

    private void run() {
        while (desired == null && !stopping) sleep(50);
        while (!stopping) {
            AgentClient.Desired d = desired;
            if (d.maintenance()) {
                while (!report("maintenance", d.generation()) && desired == d && !stopping) sleep(1000);
                while (desired == d && !stopping) sleep(50);
                continue;
            }
            report("resuming", d.generation());
            consume(d);
        }
    }

    /** One consumer's life: join, process and commit until a window opens (or SIGTERM), then leave. */
    private void consume(AgentClient.Desired resumed) {
        Map<TopicPartition, OffsetAndMetadata> finished = new HashMap<>();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props)) {
            consumer.subscribe(topics, new ConsumerRebalanceListener() {
                @Override public void onPartitionsRevoked(Collection<TopicPartition> partitions) { }
                @Override public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                    report("running", resumed.generation());
                }
            });
            while (!stopping && !desired.maintenance()) {
                for (ConsumerRecord<String, String> record : consumer.poll(Duration.ofMillis(100))) {
                    // Records fetched but not started stay uncommitted: the group's next owner gets them.
                    if (stopping || desired.maintenance()) break;
                    if (workMs > 0) sleep(workMs);
                    System.out.println("processed " + record.value());
                    finished.put(new TopicPartition(record.topic(), record.partition()), new OffsetAndMetadata(record.offset() + 1));
                }
                if (!finished.isEmpty()) {
                    consumer.commitSync(finished);
                    finished.clear();
                }
            }
            if (!stopping) report("draining", desired.generation());
        } // close() leaves the group at once
    }

    private boolean report(String state, long generation) {
        try {
            agent.report(state, 0, generation);
            return true;
        } catch (Exception e) {
            System.err.println("reporting " + state + " failed: " + e);
            return false;
        }
    }

    private static void sleep(long ms) {
        try { Thread.sleep(ms); } catch (InterruptedException e) { Thread.currentThread().interrupt(); }
    }
}

// CLI for install.sh: fetch the Kafka jars of KMAINT_KAFKA_VERSION into the cache and print their folder.
import { ensureKafkaLibs } from './kafka.ts';

console.log(await ensureKafkaLibs());

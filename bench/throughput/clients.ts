// What the throughput benchmark and its worker share; apart from worker.ts, which runs on import.

/** The clients a worker process runs (Java's ConsumerPerformance runs apart). */
export const WORKER_CLIENTS = [
  'kmaint',
  'kmaint-autocommit',
  'kmaint-platformatic',
  'kafkajs',
  'kafkajs-batch',
  'platformatic',
] as const;

/**
 * The raw @platformatic/kafka consumer's fetch sizes: kafkajs' defaults (1 MiB a partition, 10 MiB a
 * fetch). With the library's 50 MiB for both, the first fetch brings the whole topic, decoded before the
 * first message, so the timed span leaves the decoding out (726k msg/s first to last, but no faster from
 * the start); 256 KiB to 4 MiB a partition measured alike. highWaterMark is left alone: a 'data'
 * listener keeps the stream flowing, and a flowing stream hands each message on without buffering it.
 */
export const PLATFORMATIC_FETCH = { maxBytes: 10 * 1024 * 1024, maxBytesPerPartition: 1024 * 1024 };

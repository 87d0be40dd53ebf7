/**
 * Rejects with `onTimeout()` if `promise` has not settled after `ms`. The HTTP API and metric scrapes use
 * it so a broker that does not answer (the very situation of a Kafka upgrade window) cannot hang them.
 */
export async function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

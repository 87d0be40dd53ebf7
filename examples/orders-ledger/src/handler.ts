import type { MessageHandler } from '@kmaint/consumer';
import type { Ledger } from './ledger.ts';
import { parseOrder } from './order.ts';

/**
 * Parses each message as an order and upserts it into the ledger. A bad order throws a non-retriable
 * error (dead-lettered at once with its reason); a failing write throws a retriable one (retried, the
 * message stays uncommitted meanwhile).
 */
export function ordersHandler(ledger: Ledger): MessageHandler {
  return async (message, { signal }) => {
    const order = parseOrder(message.value);
    // Past a drain's deadline the write is left to the next delivery rather than racing the commit.
    signal.throwIfAborted();
    ledger.upsert(order, message);
  };
}

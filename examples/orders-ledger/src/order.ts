import { KmaintError } from '@kmaint/consumer';

/** One order as producers write it to the orders topic (JSON). */
export interface Order {
  id: string;
  customer: string;
  /** Integer amount in the currency's minor unit (cents). */
  amountCents: number;
  /** ISO 4217 code, e.g. EUR. */
  currency: string;
}

/**
 * A message that can never become an order. Not retriable: retrying cannot fix it, so the consumer sends
 * it to the dead-letter topic at once, with this message as the reason.
 */
const rejected = (reason: string): KmaintError =>
  new KmaintError('INVALID_ORDER', reason, { retriable: false });

/** Parses and validates one message value; throws a non-retriable INVALID_ORDER naming what is wrong. */
export function parseOrder(value: Buffer | null): Order {
  if (value === null) throw rejected('the message has no value');
  let doc: unknown;
  try {
    doc = JSON.parse(value.toString('utf8'));
  } catch (err) {
    throw rejected(`not JSON: ${(err as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw rejected('an order is a JSON object');
  const o = doc as Record<string, unknown>;
  if (typeof o['id'] !== 'string' || o['id'] === '') throw rejected('id must be a non-empty string');
  if (typeof o['customer'] !== 'string' || o['customer'] === '') {
    throw rejected('customer must be a non-empty string');
  }
  const amount = o['amountCents'];
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount < 0) {
    throw rejected(`amountCents must be a whole number ≥ 0, got ${JSON.stringify(amount)}`);
  }
  if (typeof o['currency'] !== 'string' || !/^[A-Z]{3}$/.test(o['currency'])) {
    throw rejected(`currency must be a three-letter ISO 4217 code, got ${JSON.stringify(o['currency'])}`);
  }
  return { id: o['id'], customer: o['customer'], amountCents: amount, currency: o['currency'] };
}

import { describe, expect, it } from 'vitest';
import { parseOrder } from '../../src/order.ts';

const valid = { id: 'o-1', customer: 'c-1', amountCents: 999, currency: 'EUR' };
const parse = (doc: unknown) => parseOrder(Buffer.from(typeof doc === 'string' ? doc : JSON.stringify(doc)));

describe('parseOrder', () => {
  it('accepts a valid order and keeps only its fields', () => {
    expect(parse({ ...valid, note: 'ignored' })).toEqual(valid);
  });

  it.each([
    ['', /not JSON/],
    ['[1]', /an order is a JSON object/],
    [{ ...valid, id: '' }, /id must be a non-empty string/],
    [{ ...valid, customer: 7 }, /customer must be a non-empty string/],
    [{ ...valid, amountCents: 1.5 }, /amountCents must be a whole number/],
    [{ ...valid, currency: 'euro' }, /currency must be a three-letter ISO 4217 code, got "euro"/],
  ])('rejects %j', (doc, reason) => {
    expect(() => parse(doc)).toThrow(reason);
  });

  it('rejects a tombstone', () => {
    expect(() => parseOrder(null)).toThrow(/no value/);
  });
});

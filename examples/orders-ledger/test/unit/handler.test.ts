import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ConsumedMessage } from '@kmaint/consumer';
import { ordersHandler } from '../../src/handler.ts';
import { Ledger } from '../../src/ledger.ts';

// A handler is a plain async function: call it with a message and a signal, then look at its effects.

let dir: string;
let ledger: Ledger;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'orders-ledger-'));
  ledger = new Ledger(join(dir, 'ledger.sqlite'));
});

afterEach(() => {
  ledger.close();
  rmSync(dir, { recursive: true, force: true });
});

const message = (value: string | null, offset = '0'): ConsumedMessage => ({
  topic: 'orders',
  partition: 0,
  offset,
  key: null,
  value: value === null ? null : Buffer.from(value),
  headers: {},
  timestamp: '0',
});

const order = (id: string, amountCents = 1250) =>
  JSON.stringify({ id, customer: 'c-1', amountCents, currency: 'EUR' });

const signal = () => new AbortController().signal;

describe('the orders handler', () => {
  it('upserts each order once by id, however often it is delivered', async () => {
    const handle = ordersHandler(ledger);
    await handle(message(order('o-1')), { signal: signal() });
    await handle(message(order('o-2'), '1'), { signal: signal() });
    await handle(message(order('o-1'), '0'), { signal: signal() });
    expect(ledger.ids()).toEqual(['o-1', 'o-2']);
  });

  it('rejects a bad order as not retriable, naming what is wrong', async () => {
    const handle = ordersHandler(ledger);
    await expect(handle(message('{not json'), { signal: signal() })).rejects.toMatchObject({
      code: 'INVALID_ORDER',
      retriable: false,
      message: expect.stringMatching(/^not JSON/),
    });
    await expect(handle(message(order('o-3', -5)), { signal: signal() })).rejects.toThrow(
      /amountCents must be a whole number ≥ 0, got -5/,
    );
    expect(ledger.ids()).toEqual([]);
  });

  it('writes nothing once the signal has aborted (the message comes back)', async () => {
    const aborted = new AbortController();
    aborted.abort(new Error('drain timeout'));
    await expect(ordersHandler(ledger)(message(order('o-4')), { signal: aborted.signal })).rejects.toThrow(
      'drain timeout',
    );
    expect(ledger.ids()).toEqual([]);
  });
});

import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { abortableDelay } from '@kmaint/common';
import type { ConsumedMessage } from '@kmaint/consumer';
import { exampleHandler } from '../../src/example-handler.ts';

const msg: ConsumedMessage = {
  topic: 't',
  partition: 0,
  offset: '7',
  key: null,
  value: Buffer.from('hello'),
  headers: {},
  timestamp: '0',
};

describe('exampleHandler', () => {
  it('handles a message, and fails the ones it is told to', async () => {
    const handler = exampleHandler(pino({ level: 'silent' }), { failWhen: (m) => m.offset === '8' });
    await expect(handler(msg, { signal: new AbortController().signal })).resolves.toBeUndefined();
    await expect(handler({ ...msg, offset: '8' }, { signal: new AbortController().signal })).rejects.toThrow(
      /simulated failure/,
    );
  });

  it('simulated work stops at once when its signal aborts', async () => {
    const handler = exampleHandler(pino({ level: 'silent' }), { workTimeMs: 600_000 });
    const ctrl = new AbortController();
    const running = handler(msg, { signal: ctrl.signal });
    ctrl.abort(new Error('drain timeout'));
    await expect(running).rejects.toThrow('drain timeout');
  });
});

describe('abortableDelay', () => {
  it('rejects immediately for an already aborted signal', async () => {
    await expect(abortableDelay(10, AbortSignal.abort(new Error('gone')))).rejects.toThrow('gone');
  });
});

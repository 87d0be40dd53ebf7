import { describe, expect, it } from 'vitest';
import { parsePoll } from '../../src/core/poll.ts';

describe('parsePoll', () => {
  it('answers at once without after, waits 30s by default with it', () => {
    expect(parsePoll({})).toEqual({ ok: true, value: { after: null, waitMs: 0 } });
    expect(parsePoll({ after: '3' })).toEqual({ ok: true, value: { after: 3, waitMs: 30_000 } });
    expect(parsePoll({ after: '3', wait: '2s' })).toEqual({ ok: true, value: { after: 3, waitMs: 2_000 } });
    expect(parsePoll({ after: '0', wait: '500' })).toEqual({ ok: true, value: { after: 0, waitMs: 500 } });
  });

  it.each([
    [{ after: '-1' }, /"after" must be a generation/],
    [{ after: 'x' }, /"after"/],
    [{ after: ['1', '2'] }, /"after"/],
    [{ after: '1', wait: 'soon' }, /"wait" must be a duration/],
    [{ after: '1', wait: '61s' }, /at most 60s/],
  ])('refuses %j', (query, error) => {
    expect(parsePoll(query)).toMatchObject({ ok: false, error: expect.stringMatching(error) });
  });
});

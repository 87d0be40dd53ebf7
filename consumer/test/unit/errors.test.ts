import { KmaintError } from '@kmaint/common';
import { describe, expect, it } from 'vitest';

describe('KmaintError across copies of @kmaint/common', () => {
  it('recognises an error of another copy of the class by its brand', () => {
    // What a KmaintError thrown by the published package's compiled copy looks like from here.
    class ForeignKmaintError extends Error {
      readonly code = 'KAFKA_NOT_CONNECTED';
      readonly retriable = true;
      constructor() {
        super('not connected');
        Object.defineProperty(this, Symbol.for('kmaint.KmaintError'), { value: true });
      }
    }
    expect(new ForeignKmaintError()).toBeInstanceOf(KmaintError);
    expect(new Error('plain')).not.toBeInstanceOf(KmaintError);
  });

  it('keeps instanceof of subclasses exact', () => {
    class ConfigLikeError extends KmaintError {}
    expect(new ConfigLikeError('X', 'x')).toBeInstanceOf(KmaintError);
    expect(new KmaintError('X', 'x')).not.toBeInstanceOf(ConfigLikeError);
  });
});

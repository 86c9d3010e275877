import { describe, expect, it } from 'vitest';
import { ACCEPTED_OPTIONS, REFUSED_OPTIONS } from '@tokengate/test-fixtures/unknown-options';
import { tokengate } from '../src/index.js';
import type { TokengateOptions } from '../src/index.js';

describe('tokengate() (Express) checks option names when it is built', () => {
  it.each(REFUSED_OPTIONS)('refuses $name', ({ options, message }) => {
    expect(() => tokengate(options as TokengateOptions)).toThrow(TypeError);
    expect(() => tokengate(options as TokengateOptions)).toThrow(message);
  });

  it('accepts every adapter setting, passErrors included', () => {
    expect(typeof tokengate(ACCEPTED_OPTIONS as TokengateOptions)).toBe('function');
  });
});

import { describe, expect, it } from 'vitest';
import { headerSafeJson } from './gateway.ts';

describe('headerSafeJson', () => {
  it('keeps header values ASCII and still parses back to the same value', () => {
    const value = { reason: 'saturation 1.2 ≥ 1.0', pod: 'é', nl: 'a\nb' };
    const text = headerSafeJson(value);
    expect(/^[\x20-\x7e]*$/.test(text)).toBe(true);
    expect(JSON.parse(text)).toEqual(value);
  });
});

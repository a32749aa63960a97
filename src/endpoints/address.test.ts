import { describe, expect, it } from 'vitest';
import { httpOrigin, urlHost } from './address.ts';

describe('addresses in URLs', () => {
  it('puts an IPv6 address in brackets and leaves names and IPv4 addresses as they are', () => {
    expect(urlHost('::1')).toBe('[::1]');
    expect(urlHost('fd00:10:244::7')).toBe('[fd00:10:244::7]');
    expect(urlHost('10.0.0.7')).toBe('10.0.0.7');
    expect(urlHost('vllm-0.vllm.default.svc')).toBe('vllm-0.vllm.default.svc');
    expect(httpOrigin('fd00::7', 8000)).toBe('http://[fd00::7]:8000');
    expect(new URL(httpOrigin('fd00::7', 8000)).port).toBe('8000');
    expect(httpOrigin('127.0.0.1', 8000)).toBe('http://127.0.0.1:8000');
  });
});

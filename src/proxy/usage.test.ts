import { describe, expect, it } from 'vitest';
import { SseUsageTap, usageFromJson } from './usage.ts';

const enc = (s: string) => new TextEncoder().encode(s);

describe('usageFromJson', () => {
  it('reads the usage object of an OpenAI answer, cached tokens too', () => {
    const body = { id: 'x', choices: [{ message: { content: 'the "usage": {"prompt_tokens": 99} is text here' } }], usage: { prompt_tokens: 12, completion_tokens: 9, total_tokens: 21, prompt_tokens_details: { cached_tokens: 8 } } };
    expect(usageFromJson(enc(JSON.stringify(body)))).toEqual({ input: 12, output: 9, cached: 8 });
    expect(usageFromJson(enc(JSON.stringify(body, null, 2)))).toEqual({ input: 12, output: 9, cached: 8 });
  });

  it('counts embeddings (no completion tokens) and ignores answers without usage or with a malformed one', () => {
    expect(usageFromJson(enc('{"object":"list","data":[],"usage":{"prompt_tokens":5,"total_tokens":5}}'))).toEqual({ input: 5, output: 0 });
    expect(usageFromJson(enc('{"choices":[]}'))).toBeUndefined();
    expect(usageFromJson(enc('{"usage":null}'))).toBeUndefined();
    expect(usageFromJson(enc('{"usage":{"prompt_tokens":-3}}'))).toBeUndefined();
    expect(usageFromJson(enc('{"usage":{"prompt_tokens":3'))).toBeUndefined();
    expect(usageFromJson(enc('"usage"'))).toBeUndefined();
    for (const bad of ['12.5', '-3', '"12"', '1e3', 'true', '99999999999999999999']) expect(usageFromJson(enc(`{"usage":{"prompt_tokens":${bad},"completion_tokens":1}}`)), bad).toBeUndefined();
    expect(usageFromJson(enc('{"usage":{"prompt_tokens":3,"completion_tokens":-1}}'))).toBeUndefined();
    expect(usageFromJson(enc('{"usage":{"prompt_tokens":3,"completion_tokens":null,"prompt_tokens_details":null}}'))).toEqual({ input: 3, output: 0 });
  });
});

describe('SseUsageTap', () => {
  const chunk = (n: number) => `data: {"choices":[{"delta":{"content":"t${n}"}}],"usage":null}\n\n`;
  const last = 'data: {"choices":[],"usage":{"prompt_tokens":30,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":16}}}\n\n';

  it('finds the usage chunk however the bytes are split, and counts them', () => {
    const text = chunk(0) + chunk(1) + last + 'data: [DONE]\n\n';
    for (const size of [1, 3, 7, 64, text.length]) {
      const tap = new SseUsageTap();
      const bytes = enc(text);
      for (let i = 0; i < bytes.length; i += size) tap.push(bytes.subarray(i, i + size));
      expect(tap.usage(), `pieces of ${size}`).toEqual({ input: 30, output: 3, cached: 16 });
      expect(tap.bytes).toBe(bytes.length);
    }
  });

  it('keeps the last usage when every chunk carries one (continuous usage stats), and reads a final line without a newline', () => {
    const tap = new SseUsageTap();
    tap.push(enc('data: {"choices":[],"usage":{"prompt_tokens":30,"completion_tokens":1}}\n\n'));
    tap.push(enc('data: {"choices":[],"usage":{"prompt_tokens":30,"completion_tokens":2}}'));
    expect(tap.usage()).toEqual({ input: 30, output: 2 });
  });

  it('has nothing for a stream without usage, or with a broken usage line', () => {
    const none = new SseUsageTap();
    none.push(enc(chunk(0) + 'data: [DONE]\n\n'));
    expect(none.usage()).toBeUndefined();
    const broken = new SseUsageTap();
    broken.push(enc('data: {"usage":{"prompt_tokens":1,\n\n'));
    expect(broken.usage()).toBeUndefined();
  });
});

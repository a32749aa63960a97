import { describe, expect, it } from 'vitest';
import { restoreModelInEvent, restoreModelInJson, restoreModelInSse } from './model-rewrite.ts';

describe('restoreModelInJson', () => {
  it('restores the top-level model name', () => {
    expect(restoreModelInJson('{"id":"x","model":"lora-v1","choices":[]}', 'lora-v1', 'bot')).toBe('{"id":"x","model":"bot","choices":[]}');
  });
  it('handles spaces and escapes', () => {
    expect(restoreModelInJson('{"model" : "a\\/b"}', 'a/b', 'c"d')).toBe('{"model":"c\\"d"}');
  });
  it('leaves other names alone, and text that merely mentions a model key', () => {
    expect(restoreModelInJson('{"model":"other"}', 'lora-v1', 'bot')).toBe('{"model":"other"}');
    expect(restoreModelInJson('{"content":"say \\"model\\":\\"lora-v1\\""}', 'lora-v1', 'bot')).toBe('{"content":"say \\"model\\":\\"lora-v1\\""}');
  });
});

describe('restoreModelInSse', () => {
  it('rewrites every event even when events are split across chunks at any byte', async () => {
    const events = [0, 1, 2].map((i) => `data: {"id":"c","model":"lora-v1","choices":[{"delta":{"content":"é${i}"}}]}\n\n`).join('') + 'data: [DONE]\n\n';
    const bytes = new TextEncoder().encode(events);
    for (const size of [1, 3, 7, 50, bytes.length]) {
      const chunks: Uint8Array[] = [];
      for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.slice(i, i + size));
      const out = await new Response(
        new ReadableStream({
          start(c) {
            for (const ch of chunks) c.enqueue(ch);
            c.close();
          },
        }).pipeThrough(restoreModelInSse('lora-v1', 'bot')),
      ).text();
      expect(out).toBe(events.replaceAll('"model":"lora-v1"', '"model":"bot"'));
    }
  });
});

describe('restoreModelInEvent', () => {
  it('restores the name in the data line whatever lines come first', () => {
    const data = 'data: {"type":"response.created","response":{"model":"lora-v1"}}';
    expect(restoreModelInEvent(data, 'lora-v1', 'bot')).toBe('data: {"type":"response.created","response":{"model":"bot"}}');
    expect(restoreModelInEvent(`event: response.created\n${data}`, 'lora-v1', 'bot')).toBe('event: response.created\ndata: {"type":"response.created","response":{"model":"bot"}}');
    expect(restoreModelInEvent(': {"model":"lora-v1"}', 'lora-v1', 'bot')).toBe(': {"model":"lora-v1"}');
  });
});

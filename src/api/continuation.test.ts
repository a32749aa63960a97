import { describe, expect, it } from 'vitest';
import { continuationFor } from './continuation.ts';

const bodyOf = (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;

describe('continuationFor', () => {
  it('the token limit left: of max_tokens, for completions of the default 16 when none was given; chat has no default', () => {
    const continued = (body: Record<string, unknown>) => bodyOf(continuationFor('completions', { model: 'm', prompt: 'Count:', stream: true, ...body }, 't')!.body('one two three', 3));
    expect(continued({})).toMatchObject({ model: 't', prompt: 'Count:one two three', max_tokens: 13 });
    expect(continued({ max_tokens: 100 }).max_tokens).toBe(97);
    // An explicit null asks vLLM for no limit: left as sent.
    expect(continued({ max_tokens: null }).max_tokens).toBe(null);
    const chat = bodyOf(continuationFor('chat', { model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true }, 't')!.body('Hello', 1));
    expect(chat.max_tokens).toBeUndefined();
    // A completion from prompt embeddings has no text prompt to extend.
    expect(continuationFor('completions', { prompt_embeds: 'AAAA', stream: true }, 't')).toBeUndefined();
  });
});

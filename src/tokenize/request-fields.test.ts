/** What the gateway reads off a request body for precise prefix matching, table-driven. */
import { describe, expect, it } from 'vitest';
import { addHashingFields, tokenizeChatFields } from './request-fields.ts';

const tools = [{ type: 'function', function: { name: 'f' } }];

describe('addHashingFields', () => {
  it.each([
    ['chat', { messages: [], tools, cache_salt: 's' }, { chatTemplate: { tools }, cacheSalt: 's' }],
    ['chat', { messages: [], chat_template_kwargs: { enable_thinking: false }, add_generation_prompt: false, continue_final_message: true, chat_template: 't' }, { chatTemplate: { chat_template_kwargs: { enable_thinking: false }, add_generation_prompt: false, continue_final_message: true, chat_template: 't' } }],
    ['chat', { messages: [], tools: [], chat_template_kwargs: 'x', cache_salt: '' }, {}],
    ['completions', { prompt: 'p', cache_salt: 'tenant-a', tools }, { cacheSalt: 'tenant-a' }],
    ['embeddings', { input: 'p', cache_salt: 'tenant-a' }, {}],
  ])('%s %j', (kind, body, want) => {
    const request = {};
    addHashingFields(request, kind, body);
    expect(request).toEqual(want);
  });

  it('asks /tokenize for a generation prompt unless the request continues its final message or says otherwise', () => {
    expect(tokenizeChatFields(undefined)).toEqual({ add_generation_prompt: true });
    expect(tokenizeChatFields({ continue_final_message: true })).toEqual({ add_generation_prompt: false, continue_final_message: true });
    expect(tokenizeChatFields({ add_generation_prompt: false, tools })).toEqual({ add_generation_prompt: false, tools });
  });
});

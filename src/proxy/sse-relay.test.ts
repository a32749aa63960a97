import { describe, expect, it } from 'vitest';
import { relaySse, type RelayedStream } from './sse-relay.ts';

const enc = new TextEncoder();
const chunk = (id: string, content: string, finish: string | null = null) => `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: id === 'a' ? 1 : 2, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: finish }] })}\n\n`;
const role = (id: string) => `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 2, model: 'm', choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] })}\n\n`;

/** A stream of these pieces (byte strings), then an end or a break. */
function source(pieces: string[], end: 'close' | 'break'): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(c) {
      if (i < pieces.length) c.enqueue(enc.encode(pieces[i++]!));
      else if (end === 'close') c.close();
      else c.error(new Error('socket reset'));
    },
  });
}

async function read(s: ReadableStream<Uint8Array>): Promise<string> {
  return new Response(s).text();
}

describe('relaySse', () => {
  it('passes whole events as they come, and nothing when the stream ends normally', async () => {
    const text = chunk('a', ' one') + chunk('a', ' two', 'stop') + 'data: [DONE]\n\n';
    const out = await read(relaySse({ endpointId: 'e1', stream: source([text.slice(0, 10), text.slice(10, 77), text.slice(77)], 'close') }, { resume: async () => ({ error: 'unused' }), maxResumes: 1 }));
    expect(out).toBe(text);
  });

  it('continues a broken stream on another endpoint: same id and created, no role chunk, no cut-off event, usage counted whole', async () => {
    const sent: Array<{ text: string; generated: number; failed: string[] }> = [];
    const firstPart = chunk('a', ' one') + chunk('a', ' two');
    const cut = chunk('a', ' thr').slice(0, 20);
    const rest = role('b') + chunk('b', ' three') + chunk('b', ' four', 'length') + `data: ${JSON.stringify({ id: 'b', created: 2, model: 'm', choices: [], usage: { prompt_tokens: 12, completion_tokens: 2, total_tokens: 14 } })}\n\ndata: [DONE]\n\n`;
    const out = await read(
      relaySse(
        { endpointId: 'e1', stream: source([firstPart, cut], 'break') },
        {
          continuation: (text, generated) => enc.encode(JSON.stringify({ text, generated })),
          resume: async (body, failed) => {
            sent.push({ ...(JSON.parse(new TextDecoder().decode(body)) as { text: string; generated: number }), failed: [...failed] });
            return { endpointId: 'e2', stream: source([rest], 'close') } satisfies RelayedStream;
          },
          maxResumes: 1,
        },
      ),
    );
    expect(sent).toEqual([{ text: ' one two', generated: 2, failed: ['e1'] }]);
    const events = out.split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    const objs = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)));
    expect(objs.map((o) => o.id)).toEqual(['a', 'a', 'a', 'a', 'a']);
    expect(objs.map((o) => o.created)).toEqual([1, 1, 1, 1, 1]);
    expect(objs.flatMap((o) => o.choices.map((c: { delta: { content: string } }) => c.delta.content)).join('')).toBe(' one two three four');
    expect(objs.at(-1).usage).toEqual({ prompt_tokens: 10, completion_tokens: 4, total_tokens: 14 });
  });

  it('ends with an OpenAI-shaped error event and [DONE] when the request cannot be continued, or no pod can', async () => {
    for (const options of [{ resume: async () => ({ error: 'unused' }), maxResumes: 1 }, { continuation: () => new Uint8Array(), resume: async () => ({ error: 'no other endpoint of pool "p" can take it' }), maxResumes: 1 }]) {
      const out = await read(relaySse({ endpointId: 'e1', stream: source([chunk('a', ' one')], 'break') }, options));
      const events = out.split('\n\n').filter(Boolean);
      expect(events[0]).toBe(chunk('a', ' one').trim());
      const error = JSON.parse(events[1]!.slice(6)) as { error: { type: string; code: string; message: string } };
      expect([error.error.type, error.error.code]).toEqual(['upstream_error', 'upstream_reset']);
      expect(error.error.message).toContain('e1');
      expect(events[2]).toBe('data: [DONE]');
    }
  });

  it('a stream that ends cleanly but without finish_reason or [DONE] counts as broken', async () => {
    const out = await read(relaySse({ endpointId: 'e1', stream: source([chunk('a', ' one')], 'close') }, { resume: async () => ({ error: 'x' }), maxResumes: 0 }));
    expect(out).toContain('"code":"upstream_reset"');
  });

  it('an answer that ends with finish_reason but no [DONE] is whole (its held events are read at the end)', async () => {
    const text = chunk('a', ' one') + chunk('a', ' two', 'stop');
    const out = await read(relaySse({ endpointId: 'e1', stream: source([text], 'close') }, { resume: async () => ({ error: 'x' }), maxResumes: 0 }));
    expect(out).toBe(text);
  });

  it('a long answer (more than the events held unread) broken off is continued with all its text', async () => {
    const words = Array.from({ length: 600 }, (_, i) => ` w${i}`);
    const pieces = words.map((w) => chunk('a', w));
    let sent: { text: string; generated: number } | undefined;
    const out = await read(
      relaySse(
        { endpointId: 'e1', stream: source(pieces, 'break') },
        {
          continuation: (text, generated) => enc.encode(JSON.stringify({ text, generated })),
          resume: async (body) => {
            sent = JSON.parse(new TextDecoder().decode(body)) as { text: string; generated: number };
            return { endpointId: 'e2', stream: source([chunk('b', ' end', 'stop') + 'data: [DONE]\n\n'], 'close') };
          },
          maxResumes: 1,
        },
      ),
    );
    expect(pieces.join('').length).toBeGreaterThan(64 * 1024);
    expect(sent).toEqual({ text: words.join(''), generated: 600 });
    expect(out.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(JSON.parse(out.split('\n\n').at(-3)!.slice(6)).id).toBe('a');
  });

  it('a break after the answer finished ends it with [DONE], never continues it', async () => {
    let resumed = 0;
    const options = { continuation: () => new Uint8Array(), resume: async () => (resumed++, { error: 'unused' }), maxResumes: 1 };
    const finished = chunk('a', ' one') + chunk('a', '', 'stop');
    expect(await read(relaySse({ endpointId: 'e1', stream: source([finished], 'break') }, options))).toBe(`${finished}data: [DONE]\n\n`);
    const done = `${finished}data: [DONE]\n\n`;
    expect(await read(relaySse({ endpointId: 'e1', stream: source([done], 'break') }, options))).toBe(done);
    expect(resumed).toBe(0);
  });

  it('several choices: finished only when each has its finish_reason, and never continued', async () => {
    const of = (index: number, content: string, finish: string | null = null) => `data: ${JSON.stringify({ id: 'a', created: 1, choices: [{ index, delta: { content }, finish_reason: finish }] })}\n\n`;
    let resumed = 0;
    const options = { continuation: () => new Uint8Array(), resume: async () => (resumed++, { error: 'unused' }), maxResumes: 1 };
    const out = await read(relaySse({ endpointId: 'e1', stream: source([of(0, 'A') + of(1, 'B') + of(0, '', 'stop')], 'close') }, options));
    expect(out).toContain('several choices');
    const whole = of(0, 'A', 'stop') + of(1, 'B', 'length');
    expect(await read(relaySse({ endpointId: 'e1', stream: source([whole], 'close') }, options))).toBe(whole);
    expect(resumed).toBe(0);
  });

  it('reasoning that reached the client is counted, and the answer is not continued', async () => {
    const thought = `data: ${JSON.stringify({ id: 'a', created: 1, choices: [{ index: 0, delta: { reasoning_content: 'hmm', content: null }, finish_reason: null }] })}\n\n`;
    let resumed = 0;
    const out = await read(relaySse({ endpointId: 'e1', stream: source([thought], 'break') }, { continuation: () => new Uint8Array(), resume: async () => (resumed++, { error: 'unused' }), maxResumes: 1 }));
    expect(out).toContain('after 1 tokens');
    expect(out).toContain('reasoning');
    expect(resumed).toBe(0);
  });

  it('at a normal end, a last event without its blank line is passed on whole, a cut-off one dropped', async () => {
    const whole = chunk('a', ' one') + chunk('a', ' two', 'stop').trimEnd();
    expect(await read(relaySse({ endpointId: 'e1', stream: source([whole], 'close') }, { resume: async () => ({ error: 'x' }), maxResumes: 0 }))).toBe(`${whole}\n\n`);
    const cut = chunk('a', ' one') + chunk('a', ' two').slice(0, 30);
    const out = await read(relaySse({ endpointId: 'e1', stream: source([cut], 'close') }, { resume: async () => ({ error: 'x' }), maxResumes: 0 }));
    expect(out.startsWith(`${chunk('a', ' one')}data: {"error"`)).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { GatewayError } from './errors.ts';
import { checkBody, promptText, type ApiKind } from './openai.ts';

function refusal(kind: ApiKind, body: Record<string, unknown>): { code: string | undefined; message: string } {
  try {
    checkBody(kind, body);
  } catch (err) {
    if (err instanceof GatewayError) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('accepted');
}

describe('checkBody', () => {
  it("takes vLLM's other forms: chat embeddings (messages) and completions from prompt_embeds", () => {
    const embeddings = checkBody('embeddings', { model: 'm', messages: [{ role: 'user', content: 'embed me' }] });
    expect(promptText(embeddings)).toBe('user: embed me\n');
    const completion = checkBody('completions', { model: 'm', prompt_embeds: 'AAAA' });
    expect(promptText(completion)).toBe('');
  });

  it('still needs one of them, and checks the one given', () => {
    expect(refusal('completions', { model: 'm' })).toMatchObject({ code: 'missing_required_parameter', message: expect.stringContaining('"prompt" (or "prompt_embeds")') });
    expect(refusal('embeddings', { model: 'm' }).message).toContain('"input" (or "messages")');
    expect(refusal('completions', { prompt_embeds: 5 }).code).toBe('invalid_value');
    expect(refusal('embeddings', { messages: [] }).code).toBe('invalid_value');
    expect(refusal('chat', { model: 'm' }).message).toBe('Missing required field "messages".');
  });
});

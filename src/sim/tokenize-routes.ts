/**
 * `POST /tokenize` and `POST /detokenize` with vLLM's request and response
 * shapes (vllm/entrypoints/openai/protocol.py: TokenizeCompletionRequest,
 * TokenizeChatRequest, TokenizeResponse, DetokenizeRequest,
 * DetokenizeResponse), answered by the simulator's own tokenizer. A chat
 * request is rendered the way the simulator renders chat prompts
 * (text.ts `chatPromptText`), so the ids are the ones its cache is keyed by.
 */
import * as v from 'valibot';
import { errorResponse, invalidBody, modelNotFound } from './openai.ts';
import type { PodContext } from './pod-context.ts';
import { chatPromptText } from './text.ts';
import { detokenize, tokenize } from './tokenizer.ts';

const Common = {
  model: v.optional(v.nullable(v.string())),
  add_special_tokens: v.optional(v.boolean()),
  return_token_strs: v.optional(v.nullable(v.boolean()), false),
};

const TokenizeCompletion = v.looseObject({ ...Common, prompt: v.string() });
const TokenizeChat = v.looseObject({
  ...Common,
  messages: v.array(v.looseObject({ role: v.string(), content: v.optional(v.unknown()) })),
  add_generation_prompt: v.optional(v.boolean(), true),
  continue_final_message: v.optional(v.boolean(), false),
});
const DetokenizeRequest = v.looseObject({
  model: v.optional(v.nullable(v.string())),
  tokens: v.array(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(2 ** 63 - 1))),
});

async function readJson(request: Request): Promise<{ ok: true; body: unknown } | { ok: false; response: Response }> {
  try {
    return { ok: true, body: await request.json() };
  } catch (err) {
    return { ok: false, response: errorResponse(400, `invalid JSON body: ${(err as Error).message}`) };
  }
}

function unknownModel(ctx: PodContext, model: string | null | undefined): Response | undefined {
  if (model == null || model === ctx.model || ctx.adapters.has(model)) return undefined;
  return modelNotFound(model);
}

export async function handleTokenize(ctx: PodContext, request: Request): Promise<Response> {
  const read = await readJson(request);
  if (!read.ok) return read.response;
  const body = read.body as Record<string, unknown> | null;
  const isChat = body !== null && typeof body === 'object' && 'messages' in body;
  const parsed = isChat ? v.safeParse(TokenizeChat, body) : v.safeParse(TokenizeCompletion, body);
  if (!parsed.success) return invalidBody(parsed.issues);
  const req = parsed.output as v.InferOutput<typeof TokenizeCompletion> | v.InferOutput<typeof TokenizeChat>;
  const missing = unknownModel(ctx, req.model);
  if (missing) return missing;
  let text: string;
  if (isChat) {
    const chat = req as v.InferOutput<typeof TokenizeChat>;
    if (chat.continue_final_message && chat.add_generation_prompt) {
      return errorResponse(400, 'Cannot set both `continue_final_message` and `add_generation_prompt` to True.');
    }
    text = chatPromptText(chat.messages);
  } else text = (req as v.InferOutput<typeof TokenizeCompletion>).prompt;
  const ids = tokenize(text);
  const tokens = Array.from(ids);
  return Response.json({
    count: tokens.length,
    max_model_len: ctx.engine.config.maxModelLen,
    tokens,
    token_strs: req.return_token_strs ? tokens.map((id) => detokenize([id])) : null,
  });
}

export async function handleDetokenize(ctx: PodContext, request: Request): Promise<Response> {
  const read = await readJson(request);
  if (!read.ok) return read.response;
  const parsed = v.safeParse(DetokenizeRequest, read.body);
  if (!parsed.success) return invalidBody(parsed.issues);
  const missing = unknownModel(ctx, parsed.output.model);
  if (missing) return missing;
  return Response.json({ prompt: detokenize(parsed.output.tokens) });
}

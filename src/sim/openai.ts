/**
 * The OpenAI-compatible request bodies the simulator accepts and the vLLM
 * shapes it answers with (errors: `{"object":"error","message","type","param","code"}`).
 */
import * as v from 'valibot';

const tokens = v.pipe(v.number(), v.integer(), v.minValue(0));

const common = {
  model: v.string(),
  max_tokens: v.optional(v.nullable(tokens)),
  stream: v.optional(v.nullable(v.boolean())),
  stream_options: v.optional(v.nullable(v.looseObject({ include_usage: v.optional(v.nullable(v.boolean())) }))),
  ignore_eos: v.optional(v.nullable(v.boolean())),
  priority: v.optional(v.nullable(v.number())),
  n: v.optional(v.nullable(v.literal(1))),
  /** Simulator extension: how many tokens the model "wants" to write (before max_tokens). */
  sim_output_tokens: v.optional(tokens),
};

export const ChatRequest = v.looseObject({
  ...common,
  max_completion_tokens: v.optional(v.nullable(tokens)),
  messages: v.pipe(
    v.array(v.looseObject({ role: v.string(), content: v.optional(v.nullable(v.unknown())) })),
    v.minLength(1),
  ),
});
export type ChatRequest = v.InferOutput<typeof ChatRequest>;

export const CompletionRequest = v.looseObject({
  ...common,
  prompt: v.union([v.string(), v.pipe(v.array(v.string()), v.length(1, 'the simulator takes one prompt per request'))]),
});
export type CompletionRequest = v.InferOutput<typeof CompletionRequest>;

/** `input`, or (vLLM's chat embeddings) `messages`: one embedding of the whole conversation. */
export const EmbeddingRequest = v.union([
  v.looseObject({
    model: v.string(),
    input: v.union([v.string(), v.pipe(v.array(v.string()), v.minLength(1))]),
  }),
  v.looseObject({
    model: v.string(),
    messages: v.pipe(v.array(v.looseObject({ role: v.string(), content: v.optional(v.nullable(v.unknown())) })), v.minLength(1)),
  }),
]);
export type EmbeddingRequest = v.InferOutput<typeof EmbeddingRequest>;

export const LoadLoraRequest = v.looseObject({ lora_name: v.pipe(v.string(), v.minLength(1)), lora_path: v.optional(v.string()) });
export const UnloadLoraRequest = v.looseObject({ lora_name: v.pipe(v.string(), v.minLength(1)) });

/** A vLLM error body. */
export function errorBody(status: number, message: string): string {
  const type = status === 404 ? 'NotFoundError' : status === 429 ? 'TooManyRequestsError' : status >= 500 ? 'InternalServerError' : 'BadRequestError';
  return JSON.stringify({ object: 'error', message, type, param: null, code: status });
}

export function errorResponse(status: number, message: string, headers: Record<string, string> = {}): Response {
  return new Response(errorBody(status, message), { status, headers: { 'content-type': 'application/json', ...headers } });
}

/** Turns a valibot failure into a 400 naming the field. */
export function invalidBody(issues: readonly v.BaseIssue<unknown>[]): Response {
  const issue = issues[0]!;
  const path = issue.path?.map((p) => String(p.key)).join('.');
  return errorResponse(400, path ? `invalid request: ${path}: ${issue.message}` : `invalid request: ${issue.message}`);
}

export function modelNotFound(model: string): Response {
  return errorResponse(404, `The model \`${model}\` does not exist.`);
}

const HEX = '0123456789abcdef';
/** Request ids like vLLM's (`chatcmpl-` + 32 hex), drawn from the pod's seeded stream. */
export function requestId(prefix: string, random: () => number): string {
  let s = prefix;
  for (let i = 0; i < 32; i++) s += HEX[(random() * 16) | 0];
  return s;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
}

export function usage(prompt: number, completion: number, cached: number): Usage {
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, prompt_tokens_details: { cached_tokens: cached } };
}

/**
 * `/v1/chat/completions` and `/v1/completions`: validate, resolve the model
 * or adapter, apply faults, queue the request in the engine and answer — as
 * one JSON body or as SSE chunks written as the engine generates tokens.
 */
import * as v from 'valibot';
import { decideFaults } from './faults.ts';
import type { TokenSink } from './driver.ts';
import { ChatRequest, CompletionRequest, errorResponse, invalidBody, modelNotFound, requestId, usage } from './openai.ts';
import type { PodContext } from './pod-context.ts';
import type { Sequence } from './sequence.ts';
import { chatPromptText, contentText, countTokens, fillerText, fillerToken, outputTokens as tokensIn, textSeed } from './text.ts';
import { promptBlocks } from './prompt-blocks.ts';

type Kind = 'chat' | 'completion';

const encoder = new TextEncoder();
const DONE = encoder.encode('data: [DONE]\n\n');

export async function handleCompletion(ctx: PodContext, kind: Kind, request: Request): Promise<Response> {
  let json: unknown;
  try {
    json = await request.json();
  } catch (err) {
    return errorResponse(400, `invalid JSON body: ${(err as Error).message}`);
  }
  const parsed = kind === 'chat' ? v.safeParse(ChatRequest, json) : v.safeParse(CompletionRequest, json);
  if (!parsed.success) return invalidBody(parsed.issues);
  const body = parsed.output;
  const model = body.model;
  let adapter: string | undefined;
  if (model !== ctx.model) {
    if (!ctx.adapters.has(model)) return modelNotFound(model);
    adapter = model;
  }

  const fault = decideFaults(ctx.faults, ctx.random);
  if (fault.errorStatus) {
    const headers: Record<string, string> = fault.errorStatus === 429 ? { 'retry-after': '1' } : {};
    return errorResponse(fault.errorStatus, `simulated fault on ${ctx.name}: status ${fault.errorStatus}`, headers);
  }

  const cfg = ctx.engine.config;
  const text = kind === 'chat' ? chatPromptText((body as ChatRequest).messages) : promptOf(body as CompletionRequest);
  const promptTokens = countTokens(text);
  const asked = (kind === 'chat' ? (body as ChatRequest).max_completion_tokens : undefined) ?? body.max_tokens ?? undefined;
  if (asked === 0) return errorResponse(400, 'max_tokens must be at least 1, got 0.');
  if (promptTokens + (asked ?? 1) > cfg.maxModelLen) {
    return errorResponse(
      400,
      `This model's maximum context length is ${cfg.maxModelLen} tokens. However, you requested ${promptTokens + (asked ?? 0)} tokens (${promptTokens} in the messages, ${asked ?? 0} in the completion). Please reduce the length of the messages or completion.`,
    );
  }

  if (fault.stallMs > 0) await sleep(fault.stallMs, request.signal);
  if (request.signal.aborted) return errorResponse(499, 'client closed the request');

  const blocks = cfg.prefixCaching ? promptBlocks(text, cfg.blockSize, adapter, ctx.kvHashing) : undefined;
  const created = Math.floor(Date.now() / 1000);
  const id = requestId(kind === 'chat' ? 'chatcmpl-' : 'cmpl-', ctx.random);
  // vLLM's continue_final_message: the final assistant message is the start of the answer, not a turn.
  const messages = kind === 'chat' ? (body as ChatRequest).messages : undefined;
  const last = messages?.[messages.length - 1];
  const continued = (body as { continue_final_message?: unknown }).continue_final_message === true && last?.role === 'assistant' ? contentText(last.content) : '';
  const offset = tokensIn(continued);
  const limit = asked ?? cfg.maxModelLen - promptTokens;
  // The answer's natural length (where the model would write EOS) counts from its start: a continued one has that much less to go.
  const hinted = Math.max(1, (Number(request.headers.get('x-sim-output-tokens')) || body.sim_output_tokens || cfg.defaultOutputTokens) - offset);
  const outputTokens = body.ignore_eos ? limit : Math.min(limit, hinted);
  const seed = ctx.deterministic ? textSeed(messages ? chatPromptText(continued ? messages.slice(0, -1) : messages) : text) : (ctx.random() * 0xffff) | 0;
  const req = { promptTokens, blockHashes: blocks?.blockHashes, kv: blocks?.kv, outputTokens, lengthLimited: outputTokens === limit, adapter, priority: body.priority ?? 0 };

  if (!body.stream) {
    const seq = await new Promise<Sequence>((resolve) => {
      const sink: TokenSink = { token() {}, finish: resolve };
      const s = ctx.driver.submit(req, sink);
      request.signal.addEventListener('abort', () => ctx.driver.abort(s), { once: true });
    });
    if (seq.state === 'aborted') return errorResponse(499, 'client closed the request');
    const content = fillerText(seed, seq.output, offset);
    const choice =
      kind === 'chat'
        ? { index: 0, message: { role: 'assistant', content, tool_calls: [] }, logprobs: null, finish_reason: seq.finishReason, stop_reason: null }
        : { index: 0, text: content, logprobs: null, finish_reason: seq.finishReason, stop_reason: null };
    return Response.json({
      id,
      object: kind === 'chat' ? 'chat.completion' : 'text_completion',
      created,
      model,
      choices: [choice],
      usage: usage(seq.promptTokens, seq.output, seq.cachedTokens),
    });
  }

  const includeUsage = body.stream_options?.include_usage === true;
  const usageField = includeUsage ? ',"usage":null' : '';
  const head = `data: {"id":"${id}","object":"${kind === 'chat' ? 'chat.completion.chunk' : 'text_completion'}","created":${created},"model":${JSON.stringify(model)}`;
  const open = kind === 'chat' ? `${head},"choices":[{"index":0,"delta":{"content":"` : `${head},"choices":[{"index":0,"text":"`;
  const close = kind === 'chat' ? '"},"logprobs":null,"finish_reason":' : '","logprobs":null,"finish_reason":';
  const roleChunk = kind === 'chat' ? `${head},"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]${usageField}}\n\n` : '';
  let seq: Sequence | undefined;
  let sent = 0;
  let pending = '';
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      const sink: TokenSink = {
        token(s) {
          const last = s.output >= s.target;
          let chunk = s.output === 1 ? roleChunk : '';
          pending += `${chunk}${open}${fillerToken(seed, offset + s.output - 1)}${close}${last ? `"${s.lengthLimited ? 'length' : 'stop'}"` : 'null'}${kind === 'completion' ? ',"stop_reason":null' : ''}}]${usageField}}\n\n`;
          if (fault.disconnectAfter > 0 && ++sent >= fault.disconnectAfter && !last) {
            ctx.driver.abort(s);
            controller.enqueue(encoder.encode(pending));
            pending = '';
            // Error on a later tick: erroring now would discard the chunks still queued.
            setTimeout(() => controller.error(prematureClose()), 1);
          }
        },
        flush() {
          if (pending === '') return;
          controller.enqueue(encoder.encode(pending));
          pending = '';
        },
        finish(s) {
          if (s.state === 'aborted') return;
          if (includeUsage) {
            const u = JSON.stringify(usage(s.promptTokens, s.output, s.cachedTokens));
            controller.enqueue(encoder.encode(`${head},"choices":[],"usage":${u}}\n\n`));
          }
          controller.enqueue(DONE);
          controller.close();
        },
      };
      seq = ctx.driver.submit(req, sink);
    },
    cancel() {
      if (seq) ctx.driver.abort(seq);
    },
  });
  return new Response(stream, {
    headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-request-id': id },
  });
}

function promptOf(body: CompletionRequest): string {
  return typeof body.prompt === 'string' ? body.prompt : body.prompt[0]!;
}

/** An error @hono/node-server treats as a closed connection: it destroys the socket without logging a stack. */
function prematureClose(): Error {
  return Object.assign(new Error('simulated fault: connection closed mid-stream'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });
}

/**
 * One simulated pod's HTTP surface, as a Hono app: the OpenAI-compatible API
 * vLLM serves, `/health`, `/metrics`, LoRA load/unload, and `/admin/*` for
 * tests (faults, engine state).
 */
import { Hono } from 'hono';
import * as v from 'valibot';
import { handleCompletion } from './completions.ts';
import { parseFaults } from './faults.ts';
import { renderMetrics } from './metrics.ts';
import { EmbeddingRequest, errorResponse, invalidBody, LoadLoraRequest, modelNotFound, UnloadLoraRequest, usage } from './openai.ts';
import type { PodContext } from './pod-context.ts';
import type { Sequence } from './sequence.ts';
import { countTokens, rng } from './text.ts';
import { handleDetokenize, handleTokenize } from './tokenize-routes.ts';

const EMBEDDING_DIMS = 64;

export function createPodApp(ctx: PodContext): Hono {
  const app = new Hono();

  app.use('/v1/*', async (c, next) => {
    ctx.inFlight++;
    if (c.req.method === 'POST') ctx.received++;
    try {
      await next();
    } finally {
      ctx.inFlight--;
    }
  });

  app.post('/v1/chat/completions', (c) => handleCompletion(ctx, 'chat', c.req.raw));
  app.post('/v1/completions', (c) => handleCompletion(ctx, 'completion', c.req.raw));
  app.post('/v1/embeddings', (c) => handleEmbeddings(ctx, c.req.raw));

  app.post('/tokenize', (c) => handleTokenize(ctx, c.req.raw));
  app.post('/detokenize', (c) => handleDetokenize(ctx, c.req.raw));
  // vLLM's (dev-mode) reset: refused while requests hold blocks; AllBlocksCleared when it runs.
  app.post('/reset_prefix_cache', (c) =>
    ctx.engine.kv.resetPrefixCache() ? c.body(null, 200) : errorResponse(400, 'Failed to reset prefix cache: requests still hold KV blocks; retry when the pod is idle.'),
  );

  app.get('/v1/models', (c) => {
    const card = (id: string, parent: string | null) => ({
      id,
      object: 'model',
      created: ctx.startedAt,
      owned_by: 'vllm',
      root: id,
      parent,
      max_model_len: ctx.engine.config.maxModelLen,
      permission: [],
    });
    return c.json({ object: 'list', data: [card(ctx.model, null), ...[...ctx.adapters].map((a) => card(a, ctx.model))] });
  });

  app.post('/v1/load_lora_adapter', async (c) => {
    const parsed = v.safeParse(LoadLoraRequest, await c.req.json().catch(() => null));
    if (!parsed.success) return invalidBody(parsed.issues);
    const name = parsed.output.lora_name;
    if (ctx.adapters.has(name) || name === ctx.model) return errorResponse(400, `The lora adapter '${name}' has already been loaded.`);
    ctx.adapters.add(name);
    return c.text(`Success: LoRA adapter '${name}' added successfully.`);
  });

  app.post('/v1/unload_lora_adapter', async (c) => {
    const parsed = v.safeParse(UnloadLoraRequest, await c.req.json().catch(() => null));
    if (!parsed.success) return invalidBody(parsed.issues);
    const name = parsed.output.lora_name;
    if (!ctx.adapters.delete(name)) return errorResponse(404, `The lora adapter '${name}' cannot be found.`);
    ctx.engine.lora.forget(name);
    return c.text(`Success: LoRA adapter '${name}' removed successfully.`);
  });

  app.get('/health', (c) => (ctx.faults.unhealthy ? c.body(null, 503) : c.body(null, 200)));

  app.get('/metrics', (c) => c.body(renderMetrics(ctx), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }));

  app.get('/admin/faults', (c) => c.json(ctx.faults));
  app.post('/admin/faults', async (c) => {
    const body = await c.req.json().catch(() => undefined);
    const r = parseFaults(body);
    if (!r.ok) return errorResponse(400, r.message);
    void ctx.setFaults(r.faults); // a listener stop waits until this answer is out

    return c.json(r.faults);
  });
  app.delete('/admin/faults', (c) => {
    void ctx.setFaults(parseFaultsOrThrow({}));
    return c.body(null, 204);
  });

  app.get('/admin/state', (c) => {
    const e = ctx.engine;
    return c.json({
      pod: ctx.name,
      model: ctx.model,
      adapters: [...ctx.adapters],
      loaded_adapters: e.lora.loaded,
      waiting: e.numWaiting,
      running: e.numRunning,
      kv_usage: e.kv.usage,
      kv_free_blocks: e.kv.free,
      kv_cached_blocks: e.kv.cachedBlocks,
      in_flight: ctx.inFlight,
      engine_time_ms: e.now,
      stats: e.stats.toJSON(),
      lateness_ms: {
        count: ctx.driver.lateness.count,
        mean: ctx.driver.lateness.count ? ctx.driver.lateness.sum / ctx.driver.lateness.count : 0,
        p50: ctx.driver.lateness.quantile(0.5),
        p99: ctx.driver.lateness.quantile(0.99),
      },
      faults: ctx.faults,
    });
  });

  app.notFound(() => errorResponse(404, 'Not Found'));
  app.onError((err) => errorResponse(500, `simulator error: ${err.message}`));
  return app;
}

function parseFaultsOrThrow(input: unknown) {
  const r = parseFaults(input);
  if (!r.ok) throw new Error(r.message);
  return r.faults;
}

async function handleEmbeddings(ctx: PodContext, request: Request): Promise<Response> {
  const parsed = v.safeParse(EmbeddingRequest, await request.json().catch(() => null));
  if (!parsed.success) return invalidBody(parsed.issues);
  const body = parsed.output;
  const model = body.model;
  if (model !== ctx.model && !ctx.adapters.has(model)) return modelNotFound(model);
  const input = (body as { input?: string | string[] }).input;
  const inputs: string[] = input === undefined ? [conversationText((body as { messages: { role: string; content?: unknown }[] }).messages)] : typeof input === 'string' ? [input] : input;
  const promptTokens = inputs.reduce((n, s) => n + countTokens(s), 0);
  const adapter = model === ctx.model ? undefined : model;
  const seq = await new Promise<Sequence>((resolve) => {
    const s = ctx.driver.submit({ promptTokens, outputTokens: 0, adapter }, { token() {}, finish: resolve });
    request.signal.addEventListener('abort', () => ctx.driver.abort(s), { once: true });
  });
  if (seq.state === 'aborted') return errorResponse(499, 'client closed the request');
  const data = inputs.map((text, index) => {
    const r = rng(countTokens(text) * 2654435761 + text.length);
    return { object: 'embedding', index, embedding: Array.from({ length: EMBEDDING_DIMS }, () => r() * 2 - 1) };
  });
  const u = usage(promptTokens, 0, seq.cachedTokens);
  return Response.json({ object: 'list', model, data, usage: { prompt_tokens: u.prompt_tokens, total_tokens: u.total_tokens } });
}

/** A chat embedding's text: its messages' text content in order (string content, or the text parts of an array). */
function conversationText(messages: readonly { role: string; content?: unknown }[]): string {
  let text = '';
  for (const m of messages) {
    if (typeof m.content === 'string') text += `${m.role}: ${m.content}\n`;
    else if (Array.isArray(m.content)) for (const part of m.content) if (part && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string') text += `${m.role}: ${(part as { text: string }).text}\n`;
  }
  return text;
}

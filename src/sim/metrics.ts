/**
 * A pod's `/metrics` in the Prometheus text exposition format (0.0.4), with
 * vLLM V1's metric names and labels, or SGLang's for `--engine sglang`.
 */
import type { Histogram } from '../observability/histogram.ts';
import type { PodContext } from './pod-context.ts';

type Labels = Record<string, string | number>;

class Exposition {
  private out = '';

  family(name: string, type: 'gauge' | 'counter' | 'histogram', help: string): this {
    this.out += `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`;
    return this;
  }

  sample(name: string, labels: Labels, value: number): this {
    this.out += `${name}${labelText(labels)} ${num(value)}\n`;
    return this;
  }

  histogram(name: string, help: string, labels: Labels, h: Histogram): this {
    this.family(name, 'histogram', help);
    let cumulative = 0;
    for (let i = 0; i < h.bounds.length; i++) {
      cumulative += h.counts[i]!;
      this.sample(`${name}_bucket`, { ...labels, le: num(h.bounds[i]!) }, cumulative);
    }
    this.sample(`${name}_bucket`, { ...labels, le: '+Inf' }, h.count);
    this.sample(`${name}_count`, labels, h.count);
    return this.sample(`${name}_sum`, labels, h.sum);
  }

  gauge(name: string, help: string, labels: Labels, value: number): this {
    return this.family(name, 'gauge', help).sample(name, labels, value);
  }

  counter(name: string, help: string, labels: Labels, value: number): this {
    return this.family(name, 'counter', help).sample(name, labels, value);
  }

  toString(): string {
    return this.out;
  }
}

function num(n: number): string {
  if (Number.isInteger(n)) return `${n}.0`;
  return Number.isFinite(n) ? String(n) : n > 0 ? '+Inf' : n < 0 ? '-Inf' : 'NaN';
}

function labelText(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return '';
  return `{${keys.map((k) => `${k}="${escapeLabel(String(labels[k]))}"`).join(',')}}`;
}

function escapeLabel(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export function renderMetrics(ctx: PodContext): string {
  return ctx.flavor === 'sglang' ? renderSglang(ctx) : renderVllm(ctx);
}

function renderVllm(ctx: PodContext): string {
  const e = ctx.engine;
  const s = e.stats;
  const cfg = e.config;
  const l = { engine: '0', model_name: ctx.model };
  const x = new Exposition()
    .gauge('vllm:num_requests_running', 'Number of requests in model execution batches.', l, e.numRunning)
    .gauge('vllm:num_requests_waiting', 'Number of requests waiting to be processed.', l, e.numWaiting)
    .gauge('vllm:kv_cache_usage_perc', 'KV-cache usage. 1 means 100 percent usage.', l, e.kv.usage)
    .gauge('vllm:gpu_cache_usage_perc', 'GPU KV-cache usage. 1 means 100 percent usage (deprecated name).', l, e.kv.usage)
    .counter('vllm:prefix_cache_queries_total', 'Prefix cache queries, in terms of number of queried tokens.', l, s.prefixQueries)
    .counter('vllm:prefix_cache_hits_total', 'Prefix cache hits, in terms of number of cached tokens.', l, s.prefixHits)
    .counter('vllm:num_preemptions_total', 'Cumulative number of preemption from the engine.', l, s.preemptions)
    .counter('vllm:prompt_tokens_total', 'Number of prefill tokens processed.', l, s.promptTokens)
    .counter('vllm:generation_tokens_total', 'Number of generation tokens processed.', l, s.generationTokens)
    .family('vllm:request_success_total', 'counter', 'Count of successfully processed requests.')
    .sample('vllm:request_success_total', { ...l, finished_reason: 'stop' }, s.finishedStop)
    .sample('vllm:request_success_total', { ...l, finished_reason: 'length' }, s.finishedLength)
    .sample('vllm:request_success_total', { ...l, finished_reason: 'abort' }, s.aborted)
    .histogram('vllm:time_to_first_token_seconds', 'Histogram of time to first token in seconds.', l, s.ttft)
    .histogram('vllm:inter_token_latency_seconds', 'Histogram of inter-token latency in seconds.', l, s.itl)
    .histogram('vllm:e2e_request_latency_seconds', 'Histogram of e2e request latency in seconds.', l, s.e2e)
    .histogram('vllm:request_queue_time_seconds', 'Histogram of time spent in WAITING phase for request.', l, s.queueTime)
    .gauge(
      'vllm:lora_requests_info',
      'Running stats on lora requests.',
      {
        max_lora: cfg.maxLoras,
        running_lora_adapters: [...e.runningAdapters.keys()].join(','),
        waiting_lora_adapters: [...e.waitingAdapters.keys()].join(','),
      },
      Date.now() / 1000,
    )
    .gauge(
      'vllm:cache_config_info',
      'Information of the LLMEngine CacheConfig',
      {
        block_size: cfg.blockSize,
        cache_dtype: 'auto',
        enable_prefix_caching: cfg.prefixCaching ? 'True' : 'False',
        gpu_memory_utilization: '0.9',
        num_cpu_blocks: 0,
        num_gpu_blocks: cfg.numGpuBlocks,
      },
      1,
    );
  return x.toString();
}

function renderSglang(ctx: PodContext): string {
  const e = ctx.engine;
  const s = e.stats;
  const cfg = e.config;
  const l = { model_name: ctx.model };
  return new Exposition()
    .gauge('sglang:num_running_reqs', 'The number of running requests.', l, e.numRunning)
    .gauge('sglang:num_queue_reqs', 'The number of requests in the waiting queue.', l, e.numWaiting)
    .gauge('sglang:num_used_tokens', 'The number of used tokens.', l, Math.round(e.kv.usage * cfg.numGpuBlocks * cfg.blockSize))
    .gauge('sglang:token_usage', 'The token usage.', l, e.kv.usage)
    .gauge('sglang:cache_hit_rate', 'The prefix cache hit rate.', l, s.prefixQueries ? s.prefixHits / s.prefixQueries : 0)
    .gauge('sglang:max_total_num_tokens', 'Maximum total number of tokens in the KV cache pool.', l, cfg.numGpuBlocks * cfg.blockSize)
    .gauge('sglang:cache_config_info', 'Information of the KV cache configuration.', { ...l, block_size: cfg.blockSize, num_gpu_blocks: cfg.numGpuBlocks }, 1)
    .counter('sglang:prompt_tokens_total', 'Number of prefill tokens processed.', l, s.promptTokens)
    .counter('sglang:generation_tokens_total', 'Number of generation tokens processed.', l, s.generationTokens)
    .counter('sglang:num_requests_total', 'Number of requests processed.', l, s.finished + s.aborted)
    .histogram('sglang:time_to_first_token_seconds', 'Histogram of time to first token in seconds.', l, s.ttft)
    .histogram('sglang:inter_token_latency_seconds', 'Histogram of inter-token latency in seconds.', l, s.itl)
    .histogram('sglang:e2e_request_latency_seconds', 'Histogram of End-to-end request latency in seconds', l, s.e2e)
    .toString();
}

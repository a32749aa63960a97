/**
 * Engine metric names → engine-neutral EndpointMetrics. Names come from each
 * engine's documentation (see docs/connect.md for the table and sources).
 * A metric an engine does not publish reads as 0 ("unknown").
 */
import type { EndpointMetrics } from '../endpoints/types.ts';
import { parsePrometheusText, type Sample } from './prom-text.ts';

export type EngineName = 'vllm' | 'sglang' | 'trtllm' | 'triton-trtllm';

interface EngineMapping {
  /** Metric names to parse; everything else on the page is skipped unparsed. */
  names: ReadonlySet<string>;
  map(samples: Sample[]): EndpointMetrics;
}

/** Sum of a metric over its series (several series per engine = several ranks/models). */
function sum(samples: Sample[], name: string, where?: (labels: Record<string, string>) => boolean): number | undefined {
  let total: number | undefined;
  for (const s of samples) {
    if (s.name !== name || (where && !where(s.labels))) continue;
    if (Number.isFinite(s.value)) total = (total ?? 0) + s.value;
  }
  return total;
}

/** Mean of a ratio over its series. */
function mean(samples: Sample[], name: string, where?: (labels: Record<string, string>) => boolean): number | undefined {
  let total = 0;
  let n = 0;
  for (const s of samples) {
    if (s.name !== name || (where && !where(s.labels)) || !Number.isFinite(s.value)) continue;
    total += s.value;
    n++;
  }
  return n ? total / n : undefined;
}

function labelOf(samples: Sample[], name: string, label: string): string | undefined {
  for (const s of samples) if (s.name === name && s.labels[label] !== undefined) return s.labels[label];
  return undefined;
}

function int(raw: string | undefined): number {
  const n = raw === undefined ? NaN : Number(raw);
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}

function list(raw: string | undefined): string[] {
  if (!raw) return [];
  return raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

function clamp01(x: number | undefined): number {
  if (x === undefined || !Number.isFinite(x)) return 0;
  return x < 0 ? 0 : x > 1 ? 1 : x;
}

function empty(): EndpointMetrics {
  return { waiting: 0, running: 0, kvUsage: 0, activeAdapters: [], waitingAdapters: [], maxAdapters: 0, blockSize: 0, totalBlocks: 0 };
}

const vllm: EngineMapping = {
  names: new Set([
    'vllm:num_requests_waiting',
    'vllm:num_requests_running',
    'vllm:kv_cache_usage_perc',
    'vllm:gpu_cache_usage_perc',
    'vllm:lora_requests_info',
    'vllm:cache_config_info',
  ]),
  map(samples) {
    const m = empty();
    m.waiting = sum(samples, 'vllm:num_requests_waiting') ?? 0;
    m.running = sum(samples, 'vllm:num_requests_running') ?? 0;
    m.kvUsage = clamp01(mean(samples, 'vllm:kv_cache_usage_perc') ?? mean(samples, 'vllm:gpu_cache_usage_perc'));
    // One series per adapter-set change; its value is the time it was set: the newest wins.
    let newest: Sample | undefined;
    for (const s of samples) if (s.name === 'vllm:lora_requests_info' && (!newest || s.value > newest.value)) newest = s;
    if (newest) {
      m.activeAdapters = list(newest.labels.running_lora_adapters);
      m.waitingAdapters = list(newest.labels.waiting_lora_adapters);
      m.maxAdapters = int(newest.labels.max_lora);
    }
    m.blockSize = int(labelOf(samples, 'vllm:cache_config_info', 'block_size'));
    m.totalBlocks = int(labelOf(samples, 'vllm:cache_config_info', 'num_gpu_blocks'));
    return m;
  },
};

const sglang: EngineMapping = {
  names: new Set(['sglang:num_queue_reqs', 'sglang:num_running_reqs', 'sglang:token_usage', 'sglang:cache_config_info', 'sglang:max_total_num_tokens']),
  map(samples) {
    const m = empty();
    m.waiting = sum(samples, 'sglang:num_queue_reqs') ?? 0;
    m.running = sum(samples, 'sglang:num_running_reqs') ?? 0;
    m.kvUsage = clamp01(mean(samples, 'sglang:token_usage'));
    m.blockSize = int(labelOf(samples, 'sglang:cache_config_info', 'page_size') ?? labelOf(samples, 'sglang:cache_config_info', 'block_size'));
    m.totalBlocks = int(labelOf(samples, 'sglang:cache_config_info', 'num_gpu_blocks'));
    const maxTokens = sum(samples, 'sglang:max_total_num_tokens');
    if (!m.totalBlocks && maxTokens && m.blockSize) m.totalBlocks = Math.floor(maxTokens / m.blockSize);
    return m;
  },
};

/**
 * trtllm-serve's Prometheus endpoint (names as Dynamo and routers publish them, `trtllm_` prefix; the
 * cache geometry as the Inference Extension's and llm-d's engine table reads it: tokens per block, max blocks).
 */
const trtllm: EngineMapping = {
  names: new Set([
    'trtllm_num_requests_waiting',
    'trtllm_num_requests_running',
    'trtllm_kv_cache_utilization',
    'trtllm_kv_cache_tokens_per_block',
    'trtllm_kv_cache_max_blocks',
  ]),
  map(samples) {
    const m = empty();
    m.waiting = sum(samples, 'trtllm_num_requests_waiting') ?? 0;
    m.running = sum(samples, 'trtllm_num_requests_running') ?? 0;
    m.kvUsage = clamp01(mean(samples, 'trtllm_kv_cache_utilization'));
    // One block size for the engine; blocks summed over its series (several ranks each report their pool).
    m.blockSize = int(String(mean(samples, 'trtllm_kv_cache_tokens_per_block') ?? ''));
    m.totalBlocks = int(String(sum(samples, 'trtllm_kv_cache_max_blocks') ?? ''));
    return m;
  },
};

/** Triton's TensorRT-LLM backend: two labelled families. */
const tritonTrtllm: EngineMapping = {
  names: new Set(['nv_trt_llm_request_metrics', 'nv_trt_llm_kv_cache_block_metrics']),
  map(samples) {
    const m = empty();
    const request = (type: string) => (l: Record<string, string>) => l.request_type === type;
    const block = (type: string) => (l: Record<string, string>) => l.kv_cache_block_type === type;
    m.waiting = sum(samples, 'nv_trt_llm_request_metrics', request('waiting')) ?? 0;
    m.running = sum(samples, 'nv_trt_llm_request_metrics', request('scheduled')) ?? sum(samples, 'nv_trt_llm_request_metrics', request('active')) ?? 0;
    const used = sum(samples, 'nv_trt_llm_kv_cache_block_metrics', block('used'));
    const max = sum(samples, 'nv_trt_llm_kv_cache_block_metrics', block('max'));
    m.kvUsage = clamp01(mean(samples, 'nv_trt_llm_kv_cache_block_metrics', block('fraction')) ?? (used !== undefined && max ? used / max : undefined));
    m.blockSize = int(String(sum(samples, 'nv_trt_llm_kv_cache_block_metrics', block('tokens_per')) ?? ''));
    m.totalBlocks = int(String(max ?? ''));
    return m;
  },
};

const engines: Record<EngineName, EngineMapping> = { vllm, sglang, trtllm, 'triton-trtllm': tritonTrtllm };

export function isEngine(name: string): name is EngineName {
  return name in engines;
}

/** A page that does not come from the engine the endpoint is configured as. */
export class EngineMismatchError extends Error {
  constructor(
    readonly expected: string,
    readonly found: EngineName | undefined,
  ) {
    super(
      found
        ? `the /metrics page is ${found}'s, not ${expected}'s: set engine: ${found} for this endpoint (endpoints file), or label the pod infergate.dev/engine=${found} (Kubernetes); read as ${expected}, its queue would look empty`
        : `the /metrics page has none of ${expected}'s metrics (is this the model server's metrics port?)`,
    );
  }
}

/** Each engine's metric prefix, as it appears at the start of a sample line. */
const SIGNATURES: Array<[EngineName, string]> = [
  ['vllm', '\nvllm:'],
  ['sglang', '\nsglang:'],
  ['triton-trtllm', '\nnv_trt_llm_'],
  ['trtllm', '\ntrtllm_'],
];

/** Which engine a /metrics page comes from, by its metric names; undefined when none is recognised. */
export function detectEngine(text: string): EngineName | undefined {
  const page = `\n${text}`;
  for (const [engine, prefix] of SIGNATURES) if (page.includes(prefix)) return engine;
  return undefined;
}

/**
 * Parse a /metrics page of the given engine (unknown engines read as vLLM).
 * A page with none of that engine's metrics throws EngineMismatchError,
 * naming the engine it does come from: read with the wrong names, a busy pod
 * would look idle and ready, and the picker would prefer it.
 */
export function readEngineMetrics(engine: string, text: string): EndpointMetrics {
  const name = isEngine(engine) ? engine : 'vllm';
  const mapping = engines[name];
  const samples = parsePrometheusText(text, mapping.names);
  if (samples.length === 0) throw new EngineMismatchError(name, detectEngine(text));
  return mapping.map(samples);
}

export function sameMetrics(a: EndpointMetrics | undefined, b: EndpointMetrics | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  return (
    a.waiting === b.waiting &&
    a.running === b.running &&
    a.kvUsage === b.kvUsage &&
    a.maxAdapters === b.maxAdapters &&
    a.blockSize === b.blockSize &&
    a.totalBlocks === b.totalBlocks &&
    sameList(a.activeAdapters, b.activeAdapters) &&
    sameList(a.waitingAdapters, b.waitingAdapters)
  );
}

function sameList(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

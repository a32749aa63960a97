/**
 * The simulated engine's parameters. Defaults are the `llama3-8b-h100` profile
 * fitted from published vLLM V1 measurements (see docs/simulator.md).
 */
import * as v from 'valibot';

export interface EngineConfig {
  /** Running slots (vLLM `max_num_seqs`). */
  maxNumSeqs: number;
  /** Tokens computed per step, prefill chunks included (`max_num_batched_tokens`). */
  maxBatchedTokens: number;
  /** Tokens per KV block. */
  blockSize: number;
  /** KV blocks on the device (`num_gpu_blocks`). */
  numGpuBlocks: number;
  /** Longest prompt + output a request may have. */
  maxModelLen: number;
  /** Prefix caching on (vLLM V1 default). */
  prefixCaching: boolean;
  /** Most distinct LoRA adapters in one running batch (`max_loras`). */
  maxLoras: number;
  /** Step time model, ms: base + prefill×tokens + attention×tokens×context_k + Σ decode. */
  stepBaseMs: number;
  prefillMsPerToken: number;
  /** Attention cost of a prefill token per 1k tokens of context. */
  prefillAttnMsPerTokenK: number;
  decodeMsPerSeq: number;
  decodeMsPerSeqK: number;
  /** Whole-step slowdown when the batch holds any LoRA request. */
  loraStepFactor: number;
  /** Loading an adapter into a GPU slot the first time (from disk). */
  loraColdLoadMs: number;
  /** Loading it again after eviction (from CPU memory). */
  loraWarmLoadMs: number;
  /** Output length when the request gives no hint (capped by max_tokens). */
  defaultOutputTokens: number;
}

export const defaultEngineConfig: Readonly<EngineConfig> = Object.freeze({
  maxNumSeqs: 1024,
  maxBatchedTokens: 8192,
  blockSize: 16,
  numGpuBlocks: 28_800,
  maxModelLen: 8192,
  prefixCaching: true,
  maxLoras: 1,
  stepBaseMs: 6.0,
  prefillMsPerToken: 0.021,
  prefillAttnMsPerTokenK: 0.0013,
  decodeMsPerSeq: 0.035,
  decodeMsPerSeqK: 0.04,
  loraStepFactor: 1.15,
  loraColdLoadMs: 250,
  loraWarmLoadMs: 10,
  defaultOutputTokens: 64,
});

/** Named parameter sets (`--profile`). */
export const profiles: Record<string, Readonly<EngineConfig>> = {
  'llama3-8b-h100': defaultEngineConfig,
  'llama3-8b-a100': Object.freeze({ ...defaultEngineConfig, maxNumSeqs: 256, maxBatchedTokens: 2048, numGpuBlocks: 14_000 }),
};

const positiveInt = v.pipe(v.number(), v.integer(), v.minValue(1));
const nonNegative = v.pipe(v.number(), v.minValue(0));

/** Partial overrides as they arrive from CLI flags or option objects. */
export const EngineConfigOverrides = v.partial(
  v.strictObject({
    maxNumSeqs: positiveInt,
    maxBatchedTokens: positiveInt,
    blockSize: positiveInt,
    numGpuBlocks: positiveInt,
    maxModelLen: positiveInt,
    prefixCaching: v.boolean(),
    maxLoras: positiveInt,
    stepBaseMs: nonNegative,
    prefillMsPerToken: nonNegative,
    prefillAttnMsPerTokenK: nonNegative,
    decodeMsPerSeq: nonNegative,
    decodeMsPerSeqK: nonNegative,
    loraStepFactor: v.pipe(v.number(), v.minValue(1)),
    loraColdLoadMs: nonNegative,
    loraWarmLoadMs: nonNegative,
    defaultOutputTokens: positiveInt,
  }),
);
export type EngineConfigOverrides = v.InferOutput<typeof EngineConfigOverrides>;

export function resolveEngineConfig(overrides: EngineConfigOverrides = {}, profile = 'llama3-8b-h100'): EngineConfig {
  const base = profiles[profile];
  if (!base) throw new Error(`unknown simulator profile "${profile}" (known: ${Object.keys(profiles).join(', ')})`);
  const parsed = v.safeParse(EngineConfigOverrides, overrides);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const path = issue.path?.map((p) => String(p.key)).join('.') ?? '';
    throw new Error(`invalid engine option ${path}: ${issue.message}`);
  }
  const cfg = { ...base, ...parsed.output };
  if (cfg.maxBatchedTokens < cfg.blockSize) throw new Error('maxBatchedTokens must be at least blockSize');
  return cfg;
}

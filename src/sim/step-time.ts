/**
 * The calibrated step-time model (ms) for one batch:
 * `base + prefill × tokens + attention × tokens × context_k + Σ_decoding (per_seq + per_seq_k × context_k)`,
 * ×`loraStepFactor` when any request in the batch uses an adapter. Adapter load time is added by the engine.
 */
import type { EngineConfig } from './config.ts';
import type { Sequence } from './sequence.ts';

export interface BatchCost {
  ms: number;
  prefillTokens: number;
  withLora: boolean;
}

export function batchCost(batch: readonly Sequence[], cfg: EngineConfig): BatchCost {
  let prefill = 0;
  let attn = 0;
  let decode = 0;
  let withLora = false;
  for (const seq of batch) {
    const n = seq.scheduled;
    if (n === 1 && seq.output > 0) {
      decode += cfg.decodeMsPerSeq + cfg.decodeMsPerSeqK * (seq.numComputed / 1000);
    } else {
      prefill += n;
      attn += n * ((seq.numComputed + n / 2) / 1000); // context at the chunk's middle
    }
    if (seq.adapter !== undefined) withLora = true;
  }
  let ms = cfg.stepBaseMs + cfg.prefillMsPerToken * prefill + cfg.prefillAttnMsPerTokenK * attn + decode;
  if (withLora) ms *= cfg.loraStepFactor;
  return { ms, prefillTokens: prefill, withLora };
}

/**
 * The endpoint picker's public surface.
 *
 * @example
 * const parsed = parseSchedulerConfig(yamlText);
 * if (!parsed.ok) throw new Error(parsed.problems.map((p) => `${p.path}: ${p.message}`).join('\n'));
 * const scheduler = createScheduler({ config: parsed.config, kernel: await loadKernelModule() });
 */
import type { EndpointPickerConfig } from './config.ts';
import { EndpointPicker } from './endpoint-picker.ts';
import type { Kernel } from './kernel/layout.ts';
import { TwinKernel } from './kernel/twin.ts';
import { instantiateKernel } from './kernel/wasm.ts';
import { builtInConfig } from './profile.ts';
import type { SchedulingServices } from './prompt-tokens.ts';

export interface CreateSchedulerOptions {
  /** A validated configuration (parseSchedulerConfig); its profiles join the built-in ones. */
  config?: EndpointPickerConfig;
  /** Clock, ms since epoch (default Date.now). */
  now?: () => number;
  /** Random source in [0, 1) for tie-breaks and random pickers (default Math.random). */
  random?: () => number;
  /** The compiled kernel (build/kernel.wasm) or its bytes; without it the TypeScript twin runs. */
  kernel?: WebAssembly.Module | BufferSource | Kernel;
  /** Fallback endpoints returned with each route decision (default 3, at most 8). */
  fallbacks?: number;
  /** The KV-event index and a tokenizer, for precise-prefix-cache plugins. */
  services?: SchedulingServices;
}

export function createScheduler(options: CreateSchedulerOptions = {}): EndpointPicker {
  const k = options.kernel;
  const kernel: Kernel = k === undefined ? new TwinKernel() : isKernel(k) ? k : instantiateKernel(k);
  return new EndpointPicker(kernel, builtInConfig(), options.config, {
    now: options.now ?? Date.now,
    random: options.random ?? Math.random,
    fallbacks: Math.max(0, Math.min(options.fallbacks ?? 3, 8)),
    services: options.services,
  });
}

function isKernel(k: WebAssembly.Module | BufferSource | Kernel): k is Kernel {
  return typeof (k as Kernel).scoreAndPick === 'function';
}

export { EndpointPicker } from './endpoint-picker.ts';
export { parseSchedulerConfig, validateSchedulerConfig, DEFAULT_SATURATION } from './config.ts';
export type { EndpointPickerConfig, ConfigProblem, ConfigResult, SaturationConfig } from './config.ts';
export type { Explanation, CandidateExplanation } from './explain.ts';
export { DEFAULT_PROFILE, GIE_DEFAULT_PROFILE } from './profile.ts';
export { isSheddable, poolSaturation, endpointSaturation } from './saturation.ts';
export { instantiateKernel } from './kernel/wasm.ts';
export { TwinKernel } from './kernel/twin.ts';
export type { Kernel } from './kernel/layout.ts';
export type { Decision, Scheduler, SchedulingRequest } from './scheduler.ts';
export type { SchedulingServices, PromptTokenizer, PromptTokens, TokenizeOutcome } from './prompt-tokens.ts';

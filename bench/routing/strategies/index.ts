/**
 * The strategies the benchmark compares. Each makes a fresh `Scheduler` for a
 * run, given the run's clock and seeded random source; the last two are the
 * real endpoint picker (src/scheduling) with a named profile.
 */
import type { EndpointPickerConfig, Kernel } from '../../../src/scheduling/index.ts';
import { createScheduler, GIE_DEFAULT_PROFILE } from '../../../src/scheduling/index.ts';
import type { Scheduler, SchedulingRequest } from '../../../src/scheduling/scheduler.ts';
import { leastRequestScheduler, randomScheduler, roundRobinScheduler } from './baselines.ts';
import { cacheAwareScheduler } from './sglang.ts';

export interface StrategyContext {
  now: () => number;
  random: () => number;
  /** The compiled kernel module (WASM); the TypeScript twin when absent. */
  kernel?: WebAssembly.Module;
  /** Cached 64-character block hashes of a request's prompt, when the harness has them. */
  hashesOf?: (req: SchedulingRequest) => readonly number[];
}

export interface Strategy {
  name: string;
  /** Scheduling profile the pools name (endpoint-picker strategies only). */
  profile?: string;
  create(ctx: StrategyContext): Scheduler;
}

export const INFERGATE_DEFAULT = 'infergate-default';

export function pickerStrategy(name: string, profile: string | undefined, config?: EndpointPickerConfig): Strategy {
  return {
    name,
    profile,
    create: (ctx) => createScheduler({ config, now: ctx.now, random: ctx.random, kernel: ctx.kernel as WebAssembly.Module | Kernel | undefined }),
  };
}

export const STRATEGIES: Strategy[] = [
  { name: 'random', create: (ctx) => randomScheduler(ctx.random) },
  { name: 'round-robin', create: () => roundRobinScheduler() },
  { name: 'least-request', create: (ctx) => leastRequestScheduler(ctx.random) },
  { name: 'sglang-cache-aware', create: (ctx) => cacheAwareScheduler({ random: ctx.random, hashesOf: ctx.hashesOf }) },
  pickerStrategy('gie-default', GIE_DEFAULT_PROFILE),
  pickerStrategy(INFERGATE_DEFAULT, undefined),
];

export function strategyByName(name: string): Strategy | undefined {
  return STRATEGIES.find((s) => s.name === name);
}

/**
 * The strategies the benchmark compares. Each makes a fresh `Scheduler` for a
 * run, given the run's clock and seeded random source; the last two are the
 * real endpoint picker (src/scheduling) with a named profile.
 */
import type { EndpointPickerConfig, Kernel, SaturationConfig } from '../../../src/scheduling/index.ts';
import { DEFAULT_BAND, type FlowControlConfig } from '../../../src/flowcontrol/config.ts';
import { DEFAULT_ISOLATION } from '../../../src/flowcontrol/isolation.ts';
import { createScheduler, GIE_DEFAULT_PROFILE, validateSchedulerConfig } from '../../../src/scheduling/index.ts';
import type { Scheduler, SchedulingRequest } from '../../../src/scheduling/scheduler.ts';
import { leastRequestScheduler, randomScheduler, roundRobinScheduler } from './baselines.ts';
import { cacheAwareScheduler } from './sglang.ts';
import type { SimEngine } from '../../../src/sim/engine.ts';

export interface StrategyContext {
  now: () => number;
  random: () => number;
  /** The compiled kernel module (WASM); the TypeScript twin when absent. */
  kernel?: WebAssembly.Module;
  /** Cached 64-character block hashes of a request's prompt, when the harness has them. */
  hashesOf?: (req: SchedulingRequest) => readonly number[];
  /** Simulated-time mode: the run's pods and engines (read lazily: the cluster is built after the scheduler). Precise strategies subscribe to their caches. */
  pods?: () => readonly { id: string; engine: SimEngine }[];
}

export interface Strategy {
  name: string;
  /** Scheduling profile the pools name (endpoint-picker strategies only). */
  profile?: string;
  create(ctx: StrategyContext): Scheduler;
  /** Flow control in front of the scheduler (the gateway's flowControl feature gate), when the strategy has it. */
  flowControl?: StrategyFlowControl;
}

export interface StrategyFlowControl {
  config: Partial<FlowControlConfig>;
  /** Requests in flight per ready endpoint at which a pool counts as saturated (0: utilization only). */
  maxConcurrency: number;
  /** The saturation thresholds flow control holds requests at (default: the picker's). */
  saturation?: Partial<SaturationConfig>;
  /** Prompt tokens not yet prefilled per endpoint at which it has no room (0: not counted). */
  maxPendingPrefillTokens?: number;
}

export const INFERGATE_DEFAULT = 'infergate-default';

export function pickerStrategy(name: string, profile: string | undefined, config?: EndpointPickerConfig): Strategy {
  return {
    name,
    profile,
    create: (ctx) => createScheduler({ config, now: ctx.now, random: ctx.random, kernel: ctx.kernel as WebAssembly.Module | Kernel | undefined }),
  };
}

export const INFERGATE_FLOW_CONTROL = 'infergate-flow-control';

/**
 * Flow control (issue 17): infergate's default profile with flow control on,
 * beside `infergate-default` in every workload and both modes. The harness
 * holds what flow control holds — in simulated time (sim-loop.ts) a request
 * the gateway queues is decided later, on a completion, a first token or a
 * scrape tick, with its flow (RequestSpec.tenant, `default-flow` when absent);
 * end to end (e2e-child.ts) the gateway child starts with the same flow-control
 * options — and the reports of priority-burst and noisy-neighbour
 * (report-groups.ts) fill their "with flow control" column.
 */
export const FLOW_CONTROL_STRATEGIES: Strategy[] = [
  {
    ...pickerStrategy(INFERGATE_FLOW_CONTROL, undefined),
    // The default profile behind flow control, configured once for the simulated pods' hardware (the
    // same for every workload; bench/routing-flow-control-sweep.ts and docs/routing-benchmark.md have the sweep): round robin between flows,
    // FCFS within one; a pod has no room when it queues (waiting ≥ 1), its KV cache is 95 % full, or
    // 4096 prompt tokens this gateway sent it are not prefilled yet; the pool is saturated when no pod
    // has room or this gateway has 768 requests in flight per pod (about the batch at which the
    // simulated H100 stops gaining throughput). The queue TTL is off: simulated time runs faster than
    // the controller's timers.
    flowControl: {
      config: { defaultRequestTTLMs: 0, noEndpointRequestTTLMs: 0, defaultBand: { ...DEFAULT_BAND, fairness: 'round-robin-fairness-policy' } },
      maxConcurrency: 768,
      maxPendingPrefillTokens: 4096,
      saturation: { queueDepthThreshold: 1, kvCacheUtilThreshold: 0.95 },
    },
  },
];

export const STRATEGIES: Strategy[] = [
  { name: 'random', create: (ctx) => randomScheduler(ctx.random) },
  { name: 'round-robin', create: () => roundRobinScheduler() },
  { name: 'least-request', create: (ctx) => leastRequestScheduler(ctx.random) },
  { name: 'sglang-cache-aware', create: (ctx) => cacheAwareScheduler({ random: ctx.random, hashesOf: ctx.hashesOf }) },
  pickerStrategy('gie-default', GIE_DEFAULT_PROFILE),
  pickerStrategy(INFERGATE_DEFAULT, undefined),
  ...FLOW_CONTROL_STRATEGIES,
];

export const INFERGATE_WITHOUT_PREFILL_WORK = 'infergate-no-prefill-work';

/**
 * An ablation, through the public config API: infergate's default profile
 * without the prefill-work scorer (and with GIE's 256-block prefix match),
 * i.e. the default before that scorer — to show what it changes. (Its
 * lora-affinity-scorer, read from a configuration, has llm-d's classes.)
 */
const WITHOUT_PREFILL_WORK_DOC = {
  plugins: [
    // infergate's 64-byte blocks, as the built-in profiles (a configuration's default is llm-d's token blocks).
    { type: 'fresh-metrics-filter' }, { type: 'queue-scorer' }, { type: 'kv-cache-utilization-scorer' }, { type: 'prefix-cache-scorer', parameters: { hashBlockSize: 64, maxPrefixBlocksToMatch: 256 } },
    { type: 'in-flight-scorer' }, { type: 'lora-affinity-scorer' }, { type: 'max-score-picker' },
  ],
  schedulingProfiles: [
    {
      name: INFERGATE_WITHOUT_PREFILL_WORK,
      plugins: [
        { pluginRef: 'fresh-metrics-filter' },
        { pluginRef: 'queue-scorer', weight: 2 },
        { pluginRef: 'kv-cache-utilization-scorer', weight: 2 },
        { pluginRef: 'prefix-cache-scorer', weight: 3 },
        { pluginRef: 'in-flight-scorer', weight: 2 },
        { pluginRef: 'lora-affinity-scorer', weight: 6 },
        { pluginRef: 'max-score-picker' },
      ],
    },
  ],
};

function ablationConfig(): EndpointPickerConfig {
  const r = validateSchedulerConfig(WITHOUT_PREFILL_WORK_DOC);
  if (!r.ok) throw new Error(`ablation profile invalid: ${JSON.stringify(r.problems)}`);
  return r.config;
}

export const INFERGATE_FLOW_ISOLATION = 'infergate-flow-isolation';

/** Not in the default comparison: run them with `--strategies …,infergate-no-prefill-work` (or `infergate-flow-isolation`). */
export const EXTRA_STRATEGIES: Strategy[] = [
  // The flow-control strategy with flow isolation on, at its defaults (src/flowcontrol/isolation.ts): opt-in, as it trades
  // the flooding flows' throughput for the others' latency (docs/routing-benchmark.md, "Flow isolation").
  {
    ...FLOW_CONTROL_STRATEGIES[0]!,
    name: INFERGATE_FLOW_ISOLATION,
    flowControl: { ...FLOW_CONTROL_STRATEGIES[0]!.flowControl!, config: { ...FLOW_CONTROL_STRATEGIES[0]!.flowControl!.config, isolation: DEFAULT_ISOLATION } },
  },
  {
    name: INFERGATE_WITHOUT_PREFILL_WORK,
    profile: INFERGATE_WITHOUT_PREFILL_WORK,
    create: (ctx) => pickerStrategy(INFERGATE_WITHOUT_PREFILL_WORK, INFERGATE_WITHOUT_PREFILL_WORK, ablationConfig()).create(ctx),
  },
];

export function strategyByName(name: string): Strategy | undefined {
  return STRATEGIES.find((s) => s.name === name) ?? EXTRA_STRATEGIES.find((s) => s.name === name);
}

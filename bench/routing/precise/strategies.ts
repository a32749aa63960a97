/**
 * Strategies for the precise-vs-approximate comparison (issue 18):
 *
 * - `infergate-default` (the approximate index, as in every other run) and
 *   `infergate-precise`: the same profile with precise-prefix-cache-scorer in
 *   place of prefix-cache-scorer (the prefill-work scorer then reads the
 *   precise match too), llm-d's speculative indexing off as in llm-d (see SPECULATIVE);
 * - `…×2`: two gateway replicas behind a round-robin front — each request is
 *   decided by the next replica in turn; an approximate replica knows only
 *   the dispatches it made, precise ones read the same index.
 *
 * In simulated time the index is fed by the engines' caches (sim-kv-index.ts).
 */
import { createScheduler, validateSchedulerConfig, type EndpointPickerConfig, type Kernel, type SchedulingServices } from '../../../src/scheduling/index.ts';
import type { Scheduler, SchedulingRequest } from '../../../src/scheduling/scheduler.ts';
import { INFERGATE_DEFAULT, pickerStrategy, strategyByName, type Strategy, type StrategyContext } from '../strategies/index.ts';
import { SimKvIndex } from './sim-kv-index.ts';

export const INFERGATE_PRECISE = 'infergate-precise';
export const PRECISE_PROFILE = 'precise';

/** infergate's default profile with the precise scorer instead of the approximate one. */
/**
 * llm-d's speculative indexing is off by default, as in llm-d: on, the end-to-end runs were worse (a
 * prompt still being prefilled counted as cached, so prefill-work sent more there: shared-prefix at 80%,
 * TTFT p50 91 vs 57 ms, p99 504 vs 298 ms). `INFERGATE_BENCH_SPECULATIVE=1` turns it on.
 */
const SPECULATIVE = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env.INFERGATE_BENCH_SPECULATIVE === '1';

export function preciseProfileDoc(hashSeed = '0') {
  return {
    plugins: [
      { type: 'fresh-metrics-filter' },
      { type: 'queue-scorer' },
      { type: 'kv-cache-utilization-scorer' },
      { type: 'precise-prefix-cache-scorer', parameters: { tokenProcessorConfig: { blockSize: 16, hashSeed }, speculativeIndexing: SPECULATIVE, maxPrefixBlocksToMatch: 2048 } },
      { type: 'in-flight-scorer' },
      { type: 'lora-affinity-scorer' },
      { type: 'prefill-work-scorer', parameters: { minRangeTokens: 4096 } },
      { type: 'max-score-picker' },
    ],
    schedulingProfiles: [
      {
        name: PRECISE_PROFILE,
        plugins: [
          { pluginRef: 'fresh-metrics-filter' },
          { pluginRef: 'queue-scorer', weight: 2 },
          { pluginRef: 'kv-cache-utilization-scorer', weight: 2 },
          { pluginRef: 'precise-prefix-cache-scorer', weight: 3 },
          { pluginRef: 'in-flight-scorer', weight: 2 },
          { pluginRef: 'lora-affinity-scorer', weight: 6 },
          { pluginRef: 'prefill-work-scorer', weight: 16 },
          { pluginRef: 'max-score-picker' },
        ],
      },
    ],
  };
}

export function preciseConfig(): EndpointPickerConfig {
  const r = validateSchedulerConfig(preciseProfileDoc());
  if (!r.ok) throw new Error(`precise profile invalid: ${JSON.stringify(r.problems)}`);
  return r.config;
}

/** Simulated time: the precise profile reading the engines' caches through a SimKvIndex. */
export function precise(): Strategy {
  const config = preciseConfig();
  return {
    name: INFERGATE_PRECISE,
    profile: PRECISE_PROFILE,
    create(ctx) {
      return preciseScheduler(ctx, config, shared(ctx));
    },
  };
}

/** One index per run, shared by every replica of it. */
const indexes = new WeakMap<object, SimKvIndex>();
function shared(ctx: StrategyContext): SimKvIndex {
  const key = ctx.now as object;
  let index = indexes.get(key);
  if (!index) indexes.set(key, (index = new SimKvIndex(ctx.now)));
  return index;
}

function preciseScheduler(ctx: StrategyContext, config: EndpointPickerConfig, index: SimKvIndex): Scheduler {
  const services: SchedulingServices = {
    kvIndex: { view: (pool) => (index.attach(ctx.pods?.() ?? []), index.view(pool)), whyNot: () => '' },
    blockHashes: (r) => BigUint64Array.from(ctx.hashesOf?.(r) ?? [], (h) => BigInt(h)),
  };
  return createScheduler({ config, now: ctx.now, random: ctx.random, kernel: ctx.kernel as WebAssembly.Module | Kernel | undefined, services });
}

/** `n` replicas of a strategy behind a round-robin front (each request's lifecycle goes to the replica that decided it). */
export function replicated(inner: Strategy, n: number): Strategy {
  return {
    name: `${inner.name}×${n}`,
    profile: inner.profile,
    create(ctx) {
      const replicas = Array.from({ length: n }, () => inner.create(ctx));
      const owner = new Map<string, Scheduler>();
      let next = 0;
      const of = (r: SchedulingRequest) => owner.get(r.requestId) ?? replicas[0]!;
      return {
        decide(pool, snapshot, request) {
          const s = replicas[next++ % n]!;
          owner.set(request.requestId, s);
          return s.decide(pool, snapshot, request);
        },
        dispatched: (pool, endpoint, request) => of(request).dispatched(pool, endpoint, request),
        firstToken: (pool, endpoint, request) => of(request).firstToken?.(pool, endpoint, request),
        completed(pool, endpoint, request) {
          of(request).completed(pool, endpoint, request);
          owner.delete(request.requestId);
        },
      };
    },
  };
}

/** The four runs of the comparison: approximate and precise, one and two replicas. */
export function comparisonStrategies(): Strategy[] {
  const approx = strategyByName(INFERGATE_DEFAULT) ?? pickerStrategy(INFERGATE_DEFAULT, undefined);
  const exact = precise();
  return [approx, replicated(approx, 2), exact, replicated(exact, 2)];
}

/**
 * Every built-in plugin type, with its parameter schema and factory. Types
 * use GIE's names (`queue-scorer`, `max-score-picker`, …); the short form
 * without the `-scorer` / `-filter` / `-picker` suffix is accepted too.
 */
import * as v from 'valibot';
import { createFreshMetricsFilter } from './filter/fresh-metrics.ts';
import { createLeastKvCacheFilter, createLeastQueueFilter } from './filter/least-queue.ts';
import { createLoraAffinityFilter } from './filter/lora-affinity.ts';
import { createLowQueueFilter } from './filter/low-queue.ts';
import { createMaxScorePicker, createRandomPicker, createWeightedRandomPicker } from './picker/pickers.ts';
import { createInFlightScorer } from './scorer/in-flight.ts';
import { createKvCacheScorer } from './scorer/kv-cache.ts';
import { createLoraAffinityScorer } from './scorer/lora-affinity.ts';
import { createApproxPrefixCacheProducer } from './producer/approx-prefix-cache.ts';
import { createPrefillWorkProducer } from './producer/prefill-work.ts';
import { createPrefixCacheScorer } from './scorer/prefix-cache.ts';
import { createPrefillWorkScorer } from './scorer/prefill-work.ts';
import { createQueueScorer } from './scorer/queue.ts';
import { createRunningRequestsScorer } from './scorer/running-requests.ts';
import type { Plugin } from './types.ts';
import type { SchedulingServices } from '../prompt-tokens.ts';
import { createPrecisePrefixCacheProducer } from './producer/precise-prefix-cache.ts';
import { createPrecisePrefixCacheScorer } from './scorer/precise-prefix-cache.ts';
import { HASH_ALGOS } from '../../kvevents/block-hash.ts';

/** Milliseconds, as a number or a string like `200ms`, `2s`, `1.5s`, `1m`. */
export const Duration = v.union(
  [
    v.pipe(v.number(), v.minValue(0, 'must not be negative')),
    v.pipe(
      v.string(),
      v.regex(/^\d+(\.\d+)?(ms|s|m)$/, 'must be a duration like 200ms, 2s or 1m'),
      v.transform((s) => {
        const n = parseFloat(s);
        return s.endsWith('ms') ? n : s.endsWith('m') ? n * 60_000 : n * 1000;
      }),
    ),
  ],
  'must be a duration in ms or like 200ms, 2s',
);

const Count = (min: number, max: number) =>
  v.pipe(v.number('must be a number'), v.integer('must be an integer'), v.minValue(min, `must be ≥ ${min}`), v.maxValue(max, `must be ≤ ${max}`));
const BaseModels = v.optional(v.array(v.string('must be a list of model names')));
const NoParameters = v.strictObject({}, 'takes no parameters');

export interface PluginType {
  type: string;
  kind: Plugin['kind'];
  parameters: v.GenericSchema<unknown, Record<string, unknown>>;
  create(name: string, parameters: Record<string, unknown>, services?: SchedulingServices): Plugin;
  /**
   * A scorer's parameters that configure the producer it reads (GIE's
   * prefix-cache-scorer took the index's parameters itself): given on the
   * scorer, they make a producer of its own.
   */
  producerParameters?: readonly string[];
}

function define<S extends v.GenericSchema<unknown, Record<string, unknown>>>(
  type: string,
  kind: Plugin['kind'],
  parameters: S,
  create: (name: string, p: v.InferOutput<S>, services: SchedulingServices) => Plugin,
  producerParameters?: readonly string[],
): PluginType {
  return { type, kind, parameters, create: ((n, p, services) => create(n, p as v.InferOutput<S>, services ?? {})) as PluginType['create'], producerParameters };
}

const PrefixIndexParameters = {
  hashBlockSize: v.optional(v.literal(64, 'must be 64 (the kernel hashes 64-byte blocks)')),
  maxPrefixBlocksToMatch: v.optional(Count(1, 4096)),
  lruCapacityPerServer: v.optional(Count(1, 10_000_000)),
};

/**
 * llm-d's precise-prefix-cache parameters (llm-d-kv-cache's configuration:
 * `tokenProcessorConfig`, `indexerConfig.kvCacheBackendConfigs`, the
 * speculative index). The index itself lives in the agent, so its backend and
 * event-subscription settings (`indexerConfig.kvBlockIndexConfig`,
 * `kvEventsConfig`, `tokenizersPoolConfig`) are accepted and have no effect
 * here: `infergate agent --kv-events` and the gateway's `--tokenizer` set them.
 */
const PreciseParameters = {
  tokenProcessorConfig: v.optional(
    v.pipe(
      v.strictObject({
        blockSize: v.optional(Count(1, 4096)),
        blockSizeTokens: v.optional(Count(1, 4096)),
        hashSeed: v.optional(v.string('must be a string (the engines\' PYTHONHASHSEED)')),
        hashAlgo: v.optional(v.picklist(HASH_ALGOS, `must be ${HASH_ALGOS.join(' or ')} (vLLM's --prefix-caching-hash-algo)`)),
      }),
      v.transform(({ blockSizeTokens, ...rest }) => ({ ...rest, blockSize: rest.blockSize ?? blockSizeTokens })),
    ),
  ),
  indexerConfig: v.optional(
    v.looseObject({
      kvCacheBackendConfigs: v.optional(
        v.array(v.strictObject({ name: v.pipe(v.string(), v.minLength(1, 'must not be empty')), weight: v.pipe(v.number('must be a number'), v.minValue(0, 'must not be negative'), v.maxValue(1, 'must be ≤ 1')) })),
      ),
    }),
  ),
  kvEventsConfig: v.optional(v.looseObject({})),
  tokenizersPoolConfig: v.optional(v.looseObject({})),
  speculativeIndexing: v.optional(v.boolean('must be true or false')),
  speculativeTTL: v.optional(Duration),
  maxPrefixBlocksToMatch: v.optional(Count(1, 4096)),
};

const TYPES: PluginType[] = [
  define('queue-scorer', 'scorer', NoParameters, (n) => createQueueScorer(n)),
  define('running-requests-scorer', 'scorer', NoParameters, (n) => createRunningRequestsScorer(n)),
  define('kv-cache-utilization-scorer', 'scorer', NoParameters, (n) => createKvCacheScorer(n)),
  define('in-flight-scorer', 'scorer', NoParameters, (n) => createInFlightScorer(n)),
  define('lora-affinity-scorer', 'scorer', v.strictObject({ baseModels: BaseModels }), (n, p) => createLoraAffinityScorer(n, p)),
  define('prefix-cache-scorer', 'scorer', v.strictObject(PrefixIndexParameters), (n) => createPrefixCacheScorer(n), Object.keys(PrefixIndexParameters)),
  define('approx-prefix-cache-producer', 'producer', v.strictObject(PrefixIndexParameters), (n, p) => createApproxPrefixCacheProducer(n, p)),
  define('precise-prefix-cache-producer', 'producer', v.strictObject(PreciseParameters), (n, p, services) => createPrecisePrefixCacheProducer(n, p, services)),
  define('precise-prefix-cache-scorer', 'scorer', v.strictObject(PreciseParameters), (n) => createPrecisePrefixCacheScorer(n), Object.keys(PreciseParameters)),
  define('prefill-work-producer', 'producer', NoParameters, (n) => createPrefillWorkProducer(n)),
  define(
    'prefill-work-scorer',
    'scorer',
    v.strictObject({ minRangeTokens: v.optional(v.pipe(v.number('must be a number'), v.minValue(0, 'must not be negative'), v.maxValue(1_000_000, 'must be ≤ 1000000'))) }),
    (n, p) => createPrefillWorkScorer(n, p),
  ),
  define('least-queue-filter', 'filter', NoParameters, (n) => createLeastQueueFilter(n)),
  define('least-kv-cache-filter', 'filter', NoParameters, (n) => createLeastKvCacheFilter(n)),
  define('low-queue-filter', 'filter', v.strictObject({ threshold: v.optional(Count(0, 1_000_000)) }), (n, p) => createLowQueueFilter(n, p)),
  define('lora-affinity-filter', 'filter', v.strictObject({ baseModels: BaseModels }), (n, p) => createLoraAffinityFilter(n, p)),
  define('fresh-metrics-filter', 'filter', v.strictObject({ maxAge: v.optional(Duration) }), (n, p) => createFreshMetricsFilter(n, p)),
  define('max-score-picker', 'picker', NoParameters, (n) => createMaxScorePicker(n)),
  define('random-picker', 'picker', NoParameters, (n) => createRandomPicker(n)),
  define('weighted-random-picker', 'picker', NoParameters, (n) => createWeightedRandomPicker(n)),
];

const BY_TYPE = new Map(TYPES.map((t) => [t.type, t]));
const ALIASES: Record<string, string> = {
  'kv-cache': 'kv-cache-utilization-scorer',
  'kv-cache-scorer': 'kv-cache-utilization-scorer',
};

/** The plugin type for a name, accepting the short form (`queue` → `queue-scorer`). */
export function pluginType(type: string): PluginType | undefined {
  const t = ALIASES[type] ?? type;
  return BY_TYPE.get(t) ?? BY_TYPE.get(`${t}-scorer`) ?? BY_TYPE.get(`${t}-filter`) ?? BY_TYPE.get(`${t}-picker`);
}

export function pluginTypeNames(): string[] {
  return TYPES.map((t) => t.type);
}

/**
 * Every built-in plugin type, with its parameter schema and factory. Types
 * use llm-d's and GIE's names and parameters (`queue-scorer`,
 * `max-score-picker`, `decode-filter`, `approx-prefix-cache-producer` with
 * `blockSizeTokens`, …); the short form without the `-scorer` / `-filter` /
 * `-picker` suffix is accepted too. Besides the plugins a profile runs, a
 * configuration may declare plugins that act outside the profiles
 * (`single-profile-handler`, the conformance verifier, the data layer the
 * agent stands for): `kind` says which.
 */
import * as v from 'valibot';
import { createFreshMetricsFilter } from './filter/fresh-metrics.ts';
import { createLeastKvCacheFilter, createLeastQueueFilter } from './filter/least-queue.ts';
import { createLoraAffinityFilter } from './filter/lora-affinity.ts';
import { createLowQueueFilter } from './filter/low-queue.ts';
import { createHeaderBasedTestingFilter } from './filter/header-based-testing.ts';
import { createRoleFilter, ROLE_FILTER_TYPES } from './filter/role.ts';
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

/**
 * Kinds of plugins declared outside the profiles: the profile handler (one
 * profile per request, chosen by the pool), the verifier that names the
 * serving endpoint in a response header, the data layer (what infergate's
 * agent does: scrape /metrics, read the engines' metric names), parsers
 * (OpenAI's, built in).
 */
export type OutsideKind = 'profile-handler' | 'response-header' | 'data-layer' | 'parser';

export interface OutsideType {
  type: string;
  kind: OutsideKind;
  parameters: v.GenericSchema<unknown, Record<string, unknown>>;
  /** What declaring it does in infergate (said in docs and warnings). */
  effect: string;
  /** `response-header`: the header set to the endpoint that served. */
  header?: string;
}

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

/**
 * The approximate prefix index's parameters: infergate's 64-byte blocks
 * (`hashBlockSize`) or llm-d's token blocks (`blockSizeTokens`, or its
 * deprecated `blockSize`, which llm-d reads as tokens; `maxPrefixTokensToMatch`); `maxPrefixBlocksToMatch` and
 * `lruCapacityPerServer` apply to both, `autoTune` (llm-d) sizes the LRU from
 * the KV capacity an endpoint reports.
 */
const PrefixIndexParameters = {
  hashBlockSize: v.optional(v.literal(64, 'must be 64 (the kernel hashes 64-byte blocks; for token blocks use blockSizeTokens)')),
  /** llm-d's deprecated name of blockSizeTokens (its ApproxPrefixCacheFactory maps one onto the other). */
  blockSize: v.optional(Count(1, 65_536)),
  maxPrefixBlocksToMatch: v.optional(Count(1, 4096)),
  lruCapacityPerServer: v.optional(Count(1, 10_000_000)),
  autoTune: v.optional(v.boolean('must be true or false')),
  blockSizeTokens: v.optional(Count(1, 65_536)),
  maxPrefixTokensToMatch: v.optional(Count(0, 10_000_000)),
};
const PrefixIndexSchema = v.pipe(
  v.strictObject(PrefixIndexParameters),
  v.check(
    (p) => !((p.blockSizeTokens !== undefined || p.blockSize !== undefined || p.maxPrefixTokensToMatch !== undefined) && p.hashBlockSize !== undefined),
    'blockSizeTokens/blockSize/maxPrefixTokensToMatch (llm-d\'s token blocks) and hashBlockSize (64-byte blocks) are two modes: set one',
  ),
);
/** llm-d's prefix-cache-scorer parameters besides the index's. */
const PrefixScorerParameters = {
  ...PrefixIndexParameters,
  /** The producer (by plugin name) whose matches the scorer reads. */
  prefixMatchInfoProducerName: v.optional(v.pipe(v.string('must be a plugin name'), v.minLength(1, 'must not be empty'))),
  prefixLengthWeight: v.optional(v.literal(0, 'must be 0: infergate scores the matched share of the prompt only')),
  maxModelLen: v.optional(Count(1, 10_000_000)),
};
/** llm-d's pickers return up to maxNumOfEndpoints; infergate picks one and keeps the next best as fallbacks. */
const PickerParameters = v.strictObject({ maxNumOfEndpoints: v.optional(v.literal(1, 'must be 1: infergate picks one endpoint (and keeps the next best for a retry)')) });

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
  define('running-requests-size-scorer', 'scorer', NoParameters, (n) => createRunningRequestsScorer(n)),
  define('kv-cache-utilization-scorer', 'scorer', NoParameters, (n) => createKvCacheScorer(n)),
  define('in-flight-scorer', 'scorer', NoParameters, (n) => createInFlightScorer(n)),
  define('lora-affinity-scorer', 'scorer', v.strictObject({ baseModels: BaseModels }), (n, p) => createLoraAffinityScorer(n, p)),
  define('prefix-cache-scorer', 'scorer', v.strictObject(PrefixScorerParameters), (n) => createPrefixCacheScorer(n), Object.keys(PrefixIndexParameters)),
  define('approx-prefix-cache-producer', 'producer', PrefixIndexSchema, (n, p) => createApproxPrefixCacheProducer(n, p)),
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
  ...ROLE_FILTER_TYPES.map((type) => define(type, 'filter', NoParameters, (n) => createRoleFilter(type, n))),
  define('header-based-testing-filter', 'filter', NoParameters, (n) => createHeaderBasedTestingFilter(n)),
  define('max-score-picker', 'picker', PickerParameters, (n) => createMaxScorePicker(n)),
  define('random-picker', 'picker', PickerParameters, (n) => createRandomPicker(n)),
  define('weighted-random-picker', 'picker', PickerParameters, (n) => createWeightedRandomPicker(n)),
];

const OUTSIDE: OutsideType[] = [
  {
    type: 'single-profile-handler', kind: 'profile-handler', parameters: NoParameters,
    effect: 'runs the one profile of the request; infergate always does (the pool names its profile with the infergate.dev/scheduling-profile annotation, else "default")',
  },
  {
    type: 'destination-endpoint-served-verifier', kind: 'response-header', parameters: NoParameters, header: 'x-conformance-test-served-endpoint',
    effect: 'answers every request with x-conformance-test-served-endpoint naming the endpoint that served it (conformance testing only)',
  },
  { type: 'metrics-data-source', kind: 'data-layer', parameters: NoParameters, effect: "the agent scrapes each endpoint's /metrics (--scrape-interval); declaring it changes nothing" },
  { type: 'core-metrics-extractor', kind: 'data-layer', parameters: NoParameters, effect: "the agent reads vLLM's, SGLang's and TensorRT-LLM's metric names itself; declaring it changes nothing" },
  { type: 'endpoint-notification-source', kind: 'data-layer', parameters: NoParameters, effect: 'the agent tells each KV index which pods join and leave a pool; declaring it changes nothing' },
  {
    type: 'token-producer',
    kind: 'data-layer',
    parameters: v.looseObject({ modelName: v.optional(v.string('must be a string')), vllm: v.optional(v.looseObject({ url: v.optional(v.string('must be a string')) })) }),
    effect: "the precise prefix producer takes token ids from the pool's own pods (vLLM's /tokenize) or from --tokenizer FILE; declaring it changes nothing (its modelName and vllm.url are not used: each pool's pods tokenize for it)",
  },
  { type: 'openai-parser', kind: 'parser', parameters: NoParameters, effect: 'the OpenAI API bodies are parsed by the gateway itself; declaring it changes nothing' },
];
const OUTSIDE_BY_TYPE = new Map(OUTSIDE.map((t) => [t.type, t]));

/** A plugin type declared outside the profiles (exact llm-d name), or undefined. */
export function outsideType(type: string): OutsideType | undefined {
  return OUTSIDE_BY_TYPE.get(type);
}

const BY_TYPE = new Map(TYPES.map((t) => [t.type, t]));
const ALIASES: Record<string, string> = {
  'kv-cache': 'kv-cache-utilization-scorer',
  'kv-cache-scorer': 'kv-cache-utilization-scorer',
  // infergate's earlier name for llm-d's running-requests-size-scorer.
  'running-requests-scorer': 'running-requests-size-scorer',
  'running-requests': 'running-requests-size-scorer',
};

/** The plugin type for a name, accepting the short form (`queue` → `queue-scorer`). */
export function pluginType(type: string): PluginType | undefined {
  const t = ALIASES[type] ?? type;
  return BY_TYPE.get(t) ?? BY_TYPE.get(`${t}-scorer`) ?? BY_TYPE.get(`${t}-filter`) ?? BY_TYPE.get(`${t}-picker`);
}

/** Every plugin type a profile can run, then those declared outside the profiles. */
export function pluginTypeNames(): string[] {
  return [...TYPES.map((t) => t.type), ...OUTSIDE.map((t) => t.type)];
}

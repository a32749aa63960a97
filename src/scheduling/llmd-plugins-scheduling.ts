/**
 * llm-d plugin types of the scheduling cycle: screener, filters, profile handlers, deciders, scorers,
 * pickers. Part of LLMD_PLUGINS (llmd-plugins.ts); sources in docs/compatibility-sources.md.
 */
import type { LlmdPluginInfo } from './llmd-plugins.ts';

const ROLE_LABEL = 'pod label llm-d.ai/role';

export const LLMD_SCHEDULING_PLUGINS: readonly LlmdPluginInfo[] = [
  // ── screener ──
  {
    type: 'disaggregatedset-rollout-screener', role: 'screener', stability: 'alpha',
    does: 'during a DisaggregatedSet rollout keeps a request on one revision across its prefill/decode roles (by labels and headers); fails closed with 503',
    parameters: [
      { name: 'scope.labelSelector', type: 'LabelSelector', required: true },
      { name: 'headerSelectors', type: '{name, headerName, labelKey, mode: strict|prefer}[]' },
      { name: 'revisionGating.mode', type: 'sum|max-role|disabled', required: true },
      { name: 'revisionGating.requireRoles.values', type: 'string[]' },
      { name: 'revisionLabelKey', type: 'string', default: 'disaggregatedset.x-k8s.io/revision' },
      { name: 'roleLabelKey', type: 'string', default: 'disaggregatedset.x-k8s.io/role' },
    ],
  },
  // ── filters ──
  {
    type: 'label-selector-filter', role: 'filter', stability: 'beta',
    does: 'keeps the endpoints whose pod labels match a Kubernetes label selector',
    parameters: [
      { name: 'matchLabels', type: 'map<string,string>' },
      { name: 'matchExpressions', type: '{key, operator: In|NotIn|Exists|DoesNotExist, values}[]' },
    ],
    infergate: 'the InferencePool selector chooses the pods; no per-profile label filter',
  },
  {
    type: 'by-label-selector', role: 'filter', stability: 'deprecated', replacedBy: 'label-selector-filter',
    does: 'keeps the endpoints matching a label selector (deprecated in v0.9.0, removal planned for v0.11.0)',
    parameters: [{ name: 'matchLabels / matchExpressions', type: 'LabelSelector' }],
  },
  {
    type: 'by-label', role: 'filter', stability: 'deprecated', replacedBy: 'label-selector-filter',
    does: 'keeps the endpoints whose value of one label is in a list (deprecated in v0.9.0, removal planned for v0.11.0)',
    parameters: [
      { name: 'label', type: 'string', required: true },
      { name: 'validValues', type: 'string[]' },
      { name: 'allowsNoLabel', type: 'boolean', note: 'keep endpoints without the label' },
    ],
  },
  {
    type: 'decode-filter', role: 'filter', stability: 'beta',
    does: `keeps endpoints whose ${ROLE_LABEL} is decode, prefill-decode, both or encode-prefill-decode, and endpoints without the label`,
    parameters: [],
  },
  {
    type: 'prefill-filter', role: 'filter', stability: 'beta',
    does: `keeps endpoints whose ${ROLE_LABEL} is prefill, encode-prefill, prefill-decode, both or encode-prefill-decode (unlabelled endpoints are dropped)`,
    parameters: [],
  },
  {
    type: 'encode-filter', role: 'filter', stability: 'beta',
    does: `keeps endpoints whose ${ROLE_LABEL} is encode, encode-prefill or encode-prefill-decode (unlabelled endpoints are dropped)`,
    parameters: [],
  },
  {
    type: 'session-affinity-filter', role: 'filter', stability: 'alpha',
    does: 'keeps only the endpoint a session was served by before (from an encoded-endpoint header or a session id)',
    parameters: [
      { name: 'strategy', type: 'encoded_endpoint_header|session_id' },
      { name: 'profileName', type: 'string' },
      { name: 'encodedEndpointHeaderConfig.header', type: 'string', default: 'x-session-token' },
      { name: 'sessionIdConfig.sources', type: '{type: header|attribute, name}[]', default: 'header x-session-id' },
      { name: 'sessionIdConfig.evictionTtlSeconds', type: 'integer', default: '300' },
      { name: 'sessionIdConfig.evictionSweepSeconds', type: 'integer', default: '10' },
    ],
    caveat: 'one published version takes only sessionIDProducerName; the README describes the fields above',
  },
  {
    type: 'endpoint-attribute-filter', role: 'filter', stability: 'alpha',
    does: 'keeps endpoints by a numeric endpoint attribute: threshold, range, top-k or percentile',
    parameters: [
      { name: 'attribute', type: 'string', required: true },
      { name: 'producer', type: 'string' },
      { name: 'onMissing', type: 'Pass|Fail', default: 'Pass' },
      { name: 'fallbackOnEmpty', type: 'boolean', default: 'false' },
      { name: 'algorithm.type', type: 'threshold|range|topK|percentile', required: true },
      { name: 'algorithm.threshold', type: '{operator: LessThan|LessThanOrEqual|GreaterThan|GreaterThanOrEqual|Equal|NotEqual, value}' },
      { name: 'algorithm.range', type: '{min, max}' },
      { name: 'algorithm.topK', type: '{k, higherIsBetter}', default: 'higherIsBetter true' },
      { name: 'algorithm.percentile', type: '{percentile 0..100, higherIsBetter}', default: 'higherIsBetter true' },
    ],
    nearest: 'low-queue-filter',
  },
  {
    type: 'topology-affinity-filter', role: 'filter', stability: 'alpha',
    does: 'keeps endpoints topologically close (host/rack/zone/region) to a peer named in a request header',
    parameters: [
      { name: 'minAffinity', type: 'host|rack|zone|region', default: 'host' },
      { name: 'topologyProducerName', type: 'string' },
      { name: 'peerTopologyHeader', type: 'string', note: 'e.g. x-peer-topology' },
    ],
  },
  {
    type: 'utilization-filter', role: 'filter', stability: 'alpha',
    does: 'drops endpoints over a limit of active requests, running requests, waiting queue or KV-cache utilization',
    parameters: [
      { name: 'conditions', type: '{metric: active-requests|running-requests|waiting-queue|kv-cache-utilization, maxValue ≥ 0 (≤ 1 for kv)}[]', required: true, note: 'at least one' },
      { name: 'fallbackOnEmpty', type: 'boolean', default: 'false' },
      { name: 'inFlightLoadProducerName', type: 'string' },
    ],
    nearest: 'low-queue-filter',
  },
  {
    type: 'prefix-cache-affinity-filter', role: 'filter', stability: 'beta',
    does: 'keeps the endpoints with a strong prefix-cache match unless their estimated TTFT penalty is too high (with exploration)',
    parameters: [
      { name: 'affinityThreshold', type: 'number', default: '0.80' },
      { name: 'explorationProbability', type: 'number', default: '0' },
      { name: 'maxTTFTPenaltyMs', type: 'number', default: '18000' },
      { name: 'ttftSource', type: 'prefillThroughput|latencyPredictor', default: 'prefillThroughput' },
      { name: 'peakPrefillThroughput', type: 'number', default: '15928' },
      { name: 'prefillCalibrationFile', type: 'string' },
      { name: 'prefillCalibrationFingerprint', type: 'string' },
      { name: 'prefillCalibrationRequired', type: 'boolean', default: 'false' },
    ],
    nearest: 'prefix-cache-scorer',
  },
  {
    type: 'slo-headroom-tier-filter', role: 'filter', stability: 'beta',
    does: 'keeps the tier of endpoints with positive (or, with ε exploration, negative) predicted SLO headroom',
    parameters: [{ name: 'epsilonExploreNeg', type: 'number 0..1', default: '0.01' }],
  },
  {
    type: 'header-based-testing-filter', role: 'test', stability: 'beta',
    does: 'conformance picker: keeps the endpoints named in the test-epp-endpoint-selection header (IP or IP:port, comma-separated); none without the header',
    parameters: [],
    infergate: 'the same type in a conformance configuration (without the header it keeps every endpoint, as the suite’s lwepp does)',
  },
  // ── profile handlers ──
  {
    type: 'single-profile-handler', role: 'profile-handler', stability: 'beta',
    does: 'runs the one scheduling profile and uses its result (an error with more than one profile)',
    parameters: [],
    infergate: 'the same type; one profile per pool is what infergate runs anyway (infergate.dev/scheduling-profile annotation)',
  },
  {
    type: 'data-parallel-profile-handler', role: 'profile-handler', stability: 'beta',
    does: 'data-parallel vLLM: routes to the pod on primaryPort and names the chosen rank in x-data-parallel-host-port (deprecated in favour of single-profile-handler with Istio ≥ 1.28.1)',
    parameters: [{ name: 'primaryPort', type: 'integer 1..65535', default: '8000' }],
    nearest: 'single-profile-handler',
    infergate: 'each of an InferencePool’s targetPorts is an endpoint of its own, so the picker chooses a data-parallel rank directly (no x-data-parallel-host-port header)',
  },
  {
    type: 'disagg-profile-handler', role: 'profile-handler', stability: 'beta',
    does: 'prefill/decode (and encode) disaggregation: runs decode, asks deciders whether to run prefill/encode profiles, stamps their choice in headers',
    parameters: [
      { name: 'profiles.decode', type: 'string', default: 'decode' },
      { name: 'profiles.prefill', type: 'string', default: 'prefill' },
      { name: 'profiles.encode', type: 'string', default: 'encode' },
      { name: 'deciders.prefill', type: 'string (decider plugin name)' },
      { name: 'deciders.encode', type: 'string (decider plugin name)' },
    ],
    nearest: 'prefill-work-scorer',
  },
  {
    type: 'disagg-headers-handler', role: 'profile-handler', stability: 'deprecated', replacedBy: 'disagg-profile-handler',
    does: 'sets the prefill/encode headers from the disaggregated profiles (deprecated in v0.9.0, removal planned for v0.11.0)',
    parameters: [{ name: 'prefillProfile', type: 'string' }, { name: 'encodeProfile', type: 'string' }],
  },
  {
    type: 'prefill-header-handler', role: 'profile-handler', stability: 'deprecated', replacedBy: 'disagg-profile-handler',
    does: 'sets the prefill header from the prefill profile (deprecated in v0.9.0, removal planned for v0.11.0)',
    parameters: [{ name: 'prefillProfile', type: 'string' }],
  },
  {
    type: 'pd-profile-handler', role: 'profile-handler', stability: 'deprecated', replacedBy: 'disagg-profile-handler',
    does: 'the former prefill/decode profile handler',
    parameters: [],
    caveat: 'named as deprecated in llm-d docs; not registered by the reference runner',
  },
  {
    type: 'header-profile-handler', role: 'profile-handler', stability: 'alpha',
    does: 'runs the scheduling profile named in a request header',
    parameters: [
      { name: 'headerName', type: 'string', default: 'EPP-Profile' },
      { name: 'defaultProfile', type: 'string', default: 'decode' },
    ],
    infergate: 'the profile is chosen per route (infergate.dev/scheduling-profile annotation), not per request',
  },
  // ── deciders ──
  {
    type: 'always-disagg-pd-decider', role: 'decider', stability: 'beta',
    does: 'always runs the prefill profile', parameters: [],
  },
  {
    type: 'prefix-based-pd-decider', role: 'decider', stability: 'beta',
    does: 'runs the prefill profile when the prompt tokens missing from the decode pod’s prefix cache (≈ chars/4) pass nonCachedTokens',
    parameters: [{ name: 'nonCachedTokens', type: 'integer ≥ 0', default: '0', note: '0 disables disaggregation; > vs ≥ not checked' }],
    caveat: 'an older llm-d named a similar decider prefix-disaggregation-decider',
  },
  {
    type: 'always-disagg-multimodal-decider', role: 'decider', stability: 'beta',
    does: 'always runs the encode profile for multimodal requests', parameters: [],
  },
  // ── scorers ──
  {
    type: 'queue-scorer', role: 'scorer', stability: 'beta',
    does: 'min-max normalised waiting-queue length, shorter is better (all equal → 1; endpoints without metrics unscored)',
    parameters: [], nearest: 'queue-scorer',
  },
  {
    type: 'kv-cache-utilization-scorer', role: 'scorer', stability: 'beta',
    does: 'scores 1 − KV-cache utilization (endpoints without the metric unscored)',
    parameters: [], nearest: 'kv-cache-utilization-scorer',
  },
  {
    type: 'running-requests-size-scorer', role: 'scorer', stability: 'beta',
    does: 'min-max normalised running-request count, fewer is better',
    parameters: [], nearest: 'running-requests-size-scorer',
  },
  {
    type: 'lora-affinity-scorer', role: 'scorer', stability: 'beta',
    does: 'LoRA placement: 1.0 adapter active, 0.8 room to load it, 0.6 adapter waiting, else 0',
    parameters: [], nearest: 'lora-affinity-scorer',
  },
  {
    type: 'prefix-cache-scorer', role: 'scorer', stability: 'beta',
    does: 'scores the fraction of the prompt’s blocks an endpoint likely holds in its prefix cache (data from a prefix producer)',
    parameters: [
      { name: 'prefixMatchInfoProducerName', type: 'string', default: 'approx-prefix-cache-producer (auto-created)' },
      { name: 'prefixLengthWeight', type: 'number 0..1', default: '0' },
      { name: 'maxModelLen', type: 'integer > 0', default: '8192', note: 'used when prefixLengthWeight > 0' },
    ],
    nearest: 'prefix-cache-scorer',
  },
  {
    type: 'load-aware-scorer', role: 'scorer', stability: 'beta',
    does: 'scores 0.5 for an empty queue, else 0.5·(1 − min(queue, threshold)/threshold)',
    parameters: [{ name: 'threshold', type: 'integer', default: '128' }],
    nearest: 'queue-scorer',
  },
  {
    type: 'active-request-scorer', role: 'scorer', stability: 'beta',
    does: 'scores endpoints by requests the router has in flight to them, fewer is better',
    parameters: [
      { name: 'idleThreshold', type: 'integer', default: '0' },
      { name: 'maxBusyScore', type: 'number', default: '1.0' },
      { name: 'inFlightLoadProducerName', type: 'string' },
      { name: 'requestTimeout', type: 'duration', note: 'deprecated' },
    ],
    nearest: 'in-flight-scorer',
  },
  {
    type: 'token-load-scorer', role: 'scorer', stability: 'beta',
    does: 'scores endpoints by in-flight tokens against a queue threshold in tokens',
    parameters: [
      { name: 'queueThresholdTokens', type: 'integer', default: '4194304' },
      { name: 'nonTextTokenWeight', type: 'number', default: '1.0' },
    ],
    nearest: 'prefill-work-scorer',
  },
  {
    type: 'no-hit-lru-scorer', role: 'scorer', stability: 'beta',
    does: 'on a prefix-cache miss, spreads cold requests to the least recently used endpoints (neutral 0.5 on a hit)',
    parameters: [
      { name: 'lruSize', type: 'integer', default: '1024' },
      { name: 'prefixMatchInfoProducerName', type: 'string' },
      { name: 'prefixPluginType / prefixPluginName', type: 'string', note: 'deprecated' },
    ],
  },
  {
    type: 'context-length-aware', role: 'scorer', stability: 'beta',
    does: 'prefers (or, with enableFiltering, keeps only) endpoints whose context-length-range label fits the request',
    parameters: [
      { name: 'label', type: 'string', default: 'llm-d.ai/context-length-range' },
      { name: 'enableFiltering', type: 'boolean', default: 'false' },
      { name: 'reusableTokensProducerName', type: 'string' },
    ],
  },
  {
    type: 'session-affinity-scorer', role: 'scorer', stability: 'alpha',
    does: 'prefers the endpoint that served the session before (encoded-endpoint header or session-id header)',
    parameters: [
      { name: 'algorithm', type: 'encoded_endpoint_header|session_id_header' },
      { name: 'headerName', type: 'string', default: 'x-session-token' },
      { name: 'profileName', type: 'string' },
      { name: 'evictionTtlSeconds', type: 'integer', default: '600' },
      { name: 'evictionSweepSeconds', type: 'integer', default: '30' },
      { name: 'missThreshold', type: 'integer', default: '3' },
    ],
  },
  {
    type: 'header-label-affinity-scorer', role: 'scorer', stability: 'alpha',
    does: 'prefers endpoints whose label labelKey equals the request header headerName',
    parameters: [
      { name: 'headerName', type: 'string', required: true },
      { name: 'labelKey', type: 'string', required: true },
      { name: 'stampResponseHeader', type: 'boolean', default: 'true' },
    ],
  },
  {
    type: 'precise-prefix-cache-scorer', role: 'scorer', stability: 'beta',
    does: 'scores endpoints by the prompt blocks their vLLM reports holding (KV events), exact rather than estimated',
    parameters: [
      { name: 'tokenProcessorConfig', type: 'object' },
      { name: 'indexerConfig', type: 'object' },
      { name: 'kvEventsConfig', type: 'object' },
      { name: 'speculativeIndexing', type: 'boolean', default: 'false' },
      { name: 'speculativeTTL', type: 'duration', default: '2s' },
    ],
    nearest: 'precise-prefix-cache-scorer',
  },
  {
    type: 'mm-embeddings-cache-scorer', role: 'scorer', stability: 'beta',
    does: 'prefers endpoints that likely cache the request’s multimodal embeddings',
    parameters: [{ name: 'producerName', type: 'string' }],
  },
  {
    type: 'endpoint-attribute-scorer', role: 'scorer', stability: 'alpha',
    does: 'scores endpoints linearly by a numeric endpoint attribute',
    parameters: [
      { name: 'attributeKey', type: 'string', required: true },
      { name: 'algorithm.type', type: 'linear_lower_is_better|linear_higher_is_better' },
      { name: 'normalization', type: 'adaptiveRange|fixedRange{min,max}' },
      { name: 'source', type: 'endpoint|metadata' },
    ],
  },
  {
    type: 'topology-affinity-scorer', role: 'scorer', stability: 'alpha',
    does: 'prefers endpoints close to a peer: host 1.0, rack 0.2, zone 0.05, region 0.02',
    parameters: [{ name: 'topologyProducerName', type: 'string' }],
  },
  {
    type: 'latency-scorer', role: 'scorer', stability: 'beta',
    does: 'scores endpoints by predicted TTFT/TPOT headroom against the request’s SLOs',
    parameters: [
      { name: 'ttftWeight', type: 'number', default: '0.8' },
      { name: 'tpotWeight', type: 'number', default: '0.2' },
      { name: 'headroomSelectionStrategy', type: 'least|most' },
      { name: 'compositeKVWeight', type: 'number', default: '1' },
      { name: 'compositeQueueWeight', type: 'number', default: '1' },
      { name: 'compositePrefixWeight', type: 'number', default: '1' },
      { name: 'latencyPredictionInfoProducerName', type: 'string' },
      { name: 'prefixMatchInfoProducerName', type: 'string' },
    ],
  },
  // ── pickers ──
  {
    type: 'max-score-picker', role: 'picker', stability: 'beta',
    does: 'picks the highest weighted score; ties are rotated round-robin',
    parameters: [{ name: 'maxNumOfEndpoints', type: 'integer', default: '1' }],
    nearest: 'max-score-picker',
  },
  {
    type: 'random-picker', role: 'picker', stability: 'beta',
    does: 'picks uniformly at random',
    parameters: [{ name: 'maxNumOfEndpoints', type: 'integer', default: '1' }],
    nearest: 'random-picker',
  },
  {
    type: 'weighted-random-picker', role: 'picker', stability: 'beta',
    does: 'picks at random in proportion to score (A-Res sampling; all zero → uniform)',
    parameters: [{ name: 'maxNumOfEndpoints', type: 'integer', default: '1' }],
    nearest: 'weighted-random-picker',
  },
];

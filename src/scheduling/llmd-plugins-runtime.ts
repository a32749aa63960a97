/**
 * llm-d plugin types around the scheduling cycle: data producers, the data layer (sources,
 * extractors, discovery), admitters, saturation detectors, flow-control policies, request control,
 * parsers, test helpers and the multicluster variants. Part of LLMD_PLUGINS (llmd-plugins.ts);
 * sources in docs/compatibility-sources.md.
 */
import type { LlmdPluginInfo } from './llmd-plugins.ts';

const TLS = [
  { name: 'insecureSkipVerify', type: 'boolean', default: 'true' },
  { name: 'caCertPath', type: 'string' },
  { name: 'clientCertPath', type: 'string' },
  { name: 'clientKeyPath', type: 'string' },
] as const;
const SATURATION_INFERGATE = 'the saturationDetector block of the scheduling config (src/scheduling/saturation.ts)';

export const LLMD_RUNTIME_PLUGINS: readonly LlmdPluginInfo[] = [
  // ── data producers ──
  {
    type: 'approx-prefix-cache-producer', role: 'data-producer', stability: 'beta',
    does: 'estimates each endpoint’s prefix-cache hits from the prompts it was sent (token blocks, chained xxhash64, per-server LRU); auto-created when a prefix-cache-scorer needs it',
    parameters: [
      { name: 'autoTune', type: 'boolean', default: 'true' },
      { name: 'blockSizeTokens', type: 'integer', default: '16', note: 'raised to at least 64' },
      { name: 'maxPrefixTokensToMatch', type: 'integer', default: '131072' },
      { name: 'maxPrefixBlocksToMatch', type: 'integer', default: '2048', note: 'deprecated; both 0 = unlimited' },
      { name: 'lruCapacityPerServer', type: 'integer', default: '31250' },
      { name: 'blockSize', type: 'integer', note: 'deprecated (characters)' },
    ],
    nearest: 'prefix-cache-scorer',
    infergate: 'prefix-cache-scorer hashes 64-byte blocks itself (no separate producer)',
  },
  {
    type: 'precise-prefix-cache-producer', role: 'data-producer', stability: 'beta',
    does: 'tracks the KV blocks each vLLM/SGLang pod holds from its KV events (ZMQ) for exact prefix matches; also a data-layer extractor',
    parameters: [
      { name: 'sessionManager', type: 'object' },
      { name: 'tokenProcessorConfig', type: 'object', note: 'blockSize (deploy config) or blockSizeTokens (docs): ambiguous' },
      { name: 'indexerConfig', type: 'object', note: 'e.g. kvBlockIndexConfig.enableMetrics' },
      { name: 'kvEventsConfig', type: '{engineType: vllm|sglang, zmqEndpoint, topicFilter, tracing…}' },
      { name: 'speculativeIndexing', type: 'boolean', default: 'false' },
      { name: 'speculativeTTL', type: 'duration', default: '2s' },
    ],
    nearest: 'precise-prefix-cache-producer',
  },
  {
    type: 'burst-prefix-cache-producer', role: 'data-producer', stability: 'alpha',
    does: 'groups bursts of requests sharing a prefix so they colocate on few replicas',
    parameters: [
      { name: 'windowDurationMs', type: 'integer', default: '100' },
      { name: 'maxPerReplica', type: 'integer', default: '-1' },
      { name: 'blockSizeTokens', type: 'integer', default: '64' },
      { name: 'maxPrefixTokensToMatch', type: 'integer', default: '0' },
      { name: 'minColocateBlocks', type: 'integer', default: '0' },
    ],
  },
  {
    type: 'p2p-source-producer', role: 'data-producer', stability: 'alpha',
    does: 'names a peer holding the prompt’s KV cache (x-kv-cache-source-host-port) for KV transfer',
    parameters: [
      { name: 'prefixMatchInfoProducerName', type: 'string' },
      { name: 'minCachedTokenDelta', type: 'integer', default: '1' },
      { name: 'prefillProfileName', type: 'string', default: 'prefill' },
    ],
  },
  {
    type: 'inflight-load-producer', role: 'data-producer', stability: 'beta',
    does: 'counts requests and tokens the router has in flight per endpoint (auto-created default producer)',
    parameters: [
      { name: 'addEstimatedOutputTokens', type: 'boolean', default: 'false' },
      { name: 'maxEstimatedOutputTokens', type: 'integer' },
      { name: 'prefixMatchInfoProducerName', type: 'string' },
    ],
    nearest: 'in-flight-scorer',
  },
  {
    type: 'predicted-latency-producer', role: 'data-producer', stability: 'beta',
    does: 'predicts TTFT/TPOT per endpoint with the latency predictor sidecar (default producer)',
    parameters: [
      { name: 'samplingMean', type: 'number', default: '1000' },
      { name: 'maxDecodeTokenSamplesForPrediction', type: 'integer', default: '0' },
      { name: 'sloBufferFactor', type: 'number', default: '1' },
      { name: 'contextTTL', type: 'duration', default: '5m' },
      { name: 'streamingMode', type: 'boolean', default: 'false' },
      { name: 'endpointRoleLabel', type: 'string' },
      { name: 'predictInProduce', type: 'boolean', default: 'true' },
      { name: 'prefixMatchInfoProducerName', type: 'string' },
    ],
    nearest: 'prefill-work-scorer',
  },
  {
    type: 'token-producer', role: 'data-producer', stability: 'beta',
    does: 'tokenizes the prompt (vLLM /tokenize, or an estimate of 4 bytes a token) for token-based plugins (default producer)',
    parameters: [
      { name: 'modelName', type: 'string', note: 'required per the Go code; the README says only for the vllm backend (ambiguous)' },
      { name: 'vllm.url', type: 'string', default: 'http://localhost:8000' },
      { name: 'vllm.messagesRenderMode', type: 'auto|native|legacy' },
      { name: 'vllm.timeout', type: 'duration', default: '5s' },
      { name: 'vllm.mmTimeout', type: 'duration', default: '30s' },
      { name: 'vllm.caCertPath / clientCertPath / clientKeyPath / insecureSkipVerify', type: 'string / boolean' },
      { name: 'vllm.prefillOnly', type: 'boolean' },
      { name: 'vllm.endpointDiscovery', type: 'object' },
      { name: 'estimate', type: 'object', note: 'the 4-bytes-a-token estimate backend' },
      { name: 'udsTokenizerConfig', type: 'object', note: 'deprecated' },
    ],
  },
  {
    type: 'tokenizer', role: 'data-producer', stability: 'deprecated', replacedBy: 'token-producer',
    does: 'the former name of token-producer', parameters: [],
  },
  {
    type: 'mm-embeddings-cache-producer', role: 'data-producer', stability: 'beta',
    does: 'tracks which endpoints likely cache each multimodal item’s embeddings (default producer)',
    parameters: [{ name: 'cacheSizeInMBPerServer', type: 'integer', default: '4096' }],
  },
  {
    type: 'session-id-producer', role: 'data-producer', stability: 'beta',
    does: 'extracts a session id from a header or cookie for session affinity (default producer)',
    parameters: [
      { name: 'headerName', type: 'string', default: 'x-session-id (when auto-created)' },
      { name: 'cookieName', type: 'string' },
      { name: 'lruSize', type: 'integer', default: '1024' },
      { name: 'ttl', type: 'duration', default: '30m' },
    ],
  },
  // ── data layer ──
  {
    type: 'metrics-data-source', role: 'data-source', stability: 'beta',
    does: 'scrapes each endpoint’s Prometheus metrics',
    parameters: [
      { name: 'scheme', type: 'http|https', default: 'http' },
      { name: 'path', type: 'string', default: '/metrics' },
      ...TLS,
      { name: 'interval', type: 'duration' },
      { name: 'families', type: 'string[]' },
    ],
    infergate: 'the agent scrapes /metrics of each pod (no plugin)',
  },
  {
    type: 'core-metrics-extractor', role: 'data-extractor', stability: 'beta',
    does: 'reads queue length, running requests and KV-cache use from the scraped metrics, per engine (vllm, sglang, atom, trtllm-serve, triton-tensorrt-llm)',
    parameters: [
      { name: 'engineLabelKey', type: 'string', default: 'llm-d.ai/engine-type' },
      { name: 'defaultEngine', type: 'string', default: 'vllm' },
      { name: 'engineConfigs', type: '{name, queuedRequestsSpec, runningRequestsSpec, kvUsageSpec, customMetrics[{attributeKey, metricSpec, optional}]}[]' },
    ],
    infergate: 'the agent parses vLLM metrics (no plugin)',
  },
  {
    type: 'models-data-source', role: 'data-source', stability: 'beta',
    does: 'scrapes each endpoint’s /v1/models',
    parameters: [{ name: 'scheme', type: 'http|https' }, { name: 'path', type: 'string', default: '/v1/models' }, ...TLS],
    infergate: 'the agent reads each pod’s /v1/models itself (every 10 s) for GET /v1/models',
  },
  { type: 'models-data-extractor', role: 'data-extractor', stability: 'beta', does: 'records the models each endpoint serves', parameters: [], infergate: 'the agent reads each pod’s /v1/models itself (every 10 s)' },
  {
    type: 'models-responder', role: 'responder', stability: 'alpha',
    does: 'answers GET /v1/models with the union of the endpoints’ models (503 when none scraped yet)', parameters: [],
    infergate: 'GET /v1/models answers with what the pods list at their /v1/models (the agent reads it), not as a plugin',
  },
  { type: 'topology-extractor', role: 'data-extractor', stability: 'alpha', does: 'reads host/rack/zone/region topology for the topology plugins', parameters: [] },
  {
    type: 'dcgm-data-source', role: 'data-source', stability: 'alpha',
    does: 'scrapes NVIDIA DCGM exporter GPU metrics',
    parameters: [
      { name: 'scheme', type: 'http|https' },
      { name: 'path', type: 'string', default: '/metrics' },
      { name: 'port', type: 'integer', default: '9400' },
      { name: 'insecureSkipVerify', type: 'boolean', default: 'true' },
      { name: 'useNodeAddress', type: 'boolean', default: 'false' },
    ],
  },
  { type: 'dcgm-extractor', role: 'data-extractor', stability: 'alpha', does: 'turns DCGM metrics into endpoint attributes', parameters: [] },
  {
    type: 'endpoint-notification-source', role: 'data-source', stability: 'beta',
    does: 'delivers endpoint add/remove notifications to extractors (e.g. precise-prefix-cache-producer)', parameters: [],
  },
  {
    type: 'k8s-notification-source', role: 'data-source', stability: 'beta',
    does: 'delivers Kubernetes object notifications to extractors', parameters: [],
    caveat: 'named in the file-discovery README; registration not verified',
  },
  {
    type: 'file-discovery', role: 'endpoint-discovery', stability: 'beta',
    does: 'reads the endpoints from a file instead of watching Kubernetes pods',
    parameters: [{ name: 'path', type: 'string', required: true }, { name: 'watchFile', type: 'boolean', default: 'false' }],
    infergate: 'static pools / the control plane’s endpoints (no plugin)',
  },
  // ── admitters and saturation detectors ──
  {
    type: 'probabilistic-admitter', role: 'admitter', stability: 'beta',
    does: 'rejects sheddable requests (priority < 0) with probability min(saturation^power · k, 1)',
    parameters: [
      { name: 'queueDepthThreshold', type: 'integer', default: '5' },
      { name: 'kvCacheUtilThreshold', type: 'number', default: '0.8' },
      { name: 'power', type: 'number', default: '5.0' },
      { name: 'k', type: 'number', default: '300.0' },
    ],
    infergate: `sheddable requests are refused outright when saturated (${SATURATION_INFERGATE})`,
  },
  {
    type: 'latency-slo-admitter', role: 'admitter', stability: 'beta',
    does: 'rejects requests whose SLO headers (x-slo-ttft-ms / x-slo-tpot-ms) no endpoint is predicted to meet',
    parameters: [{ name: 'latencyPredictionInfoProducerName', type: 'string' }],
  },
  {
    type: 'utilization-detector', role: 'saturation-detector', stability: 'beta',
    does: 'the default detector: saturated when every fresh endpoint is over the queue or KV-cache threshold (stale metrics count as saturated); usable as a filter too',
    parameters: [
      { name: 'queueDepthThreshold', type: 'integer', default: '5' },
      { name: 'kvCacheUtilThreshold', type: 'number (0,1]', default: '0.8' },
      { name: 'metricsStalenessThreshold', type: 'duration', default: '200ms' },
      { name: 'headroom', type: 'number', default: '0' },
    ],
    infergate: SATURATION_INFERGATE,
  },
  {
    type: 'concurrency-detector', role: 'saturation-detector', stability: 'beta',
    does: 'saturated when in-flight requests and/or tokens reach a concurrency limit per endpoint',
    parameters: [
      { name: 'concurrencyMode', type: 'requests|tokens|hybrid', note: 'default not verified' },
      { name: 'maxConcurrency', type: 'integer', default: '100' },
      { name: 'maxTokenConcurrency', type: 'integer', default: '1000000' },
      { name: 'headroom', type: 'number', default: '0' },
    ],
    infergate: SATURATION_INFERGATE,
  },
  // ── flow control (featureGates: [flowControl]) ──
  { type: 'global-strict-fairness-policy', role: 'fairness-policy', stability: 'beta', does: 'ignores flow boundaries: dispatches the best request of the whole band by the ordering policy (e.g. oldest); the default, no isolation between flows', parameters: [] },
  { type: 'round-robin-fairness-policy', role: 'fairness-policy', stability: 'beta', does: 'cycles through the active flows (fairness ids) of a band one by one, skipping empty ones', parameters: [] },
  {
    type: 'program-aware-fairness', role: 'fairness-policy', stability: 'beta',
    does: 'least-attained-service fairness across programs (fairness ids), weighing service received and head-of-line wait',
    parameters: [
      { name: 'strategy', type: 'string', default: 'las' },
      { name: 'lasWeightService', type: 'number', default: '0.8' },
      { name: 'lasWeightHeadWait', type: 'number', default: '0.2' },
      { name: 'lasDecayFactor', type: 'number', default: '0.99997' },
      { name: 'lasHalfLifeSeconds', type: 'number', default: '60' },
      { name: 'evictionTtlSeconds', type: 'integer', default: '3600' },
      { name: 'evictionSweepSeconds', type: 'integer', default: '300' },
    ],
  },
  { type: 'fcfs-ordering-policy', role: 'ordering-policy', stability: 'beta', does: 'first come, first served inside a flow (the default)', parameters: [] },
  { type: 'edf-ordering-policy', role: 'ordering-policy', stability: 'beta', does: 'earliest deadline first inside a flow (enqueue time + effective TTL; requests without a TTL last, FCFS among ties)', parameters: [] },
  { type: 'slo-deadline-ordering-policy', role: 'ordering-policy', stability: 'beta', does: 'orders by the deadline the x-llm-d-slo-ttft-ms header sets', parameters: [] },
  {
    type: 'static-usage-limit-policy', role: 'usage-limit-policy', stability: 'beta',
    does: 'lets every band use the pool up to a fixed saturation threshold (the default)',
    parameters: [{ name: 'threshold', type: 'number', default: '1.0' }],
  },
  {
    type: 'priority-holdback-policy', role: 'usage-limit-policy', stability: 'alpha',
    does: 'gives lower-priority bands lower saturation ceilings so higher ones keep headroom',
    parameters: [
      { name: 'shape', type: 'string', default: 'linear' },
      { name: 'domain', type: 'rank|value|explicit' },
      { name: 'minCeiling', type: 'number [0,1)', required: true },
      { name: 'maxCeiling', type: 'number', default: '1.0' },
      { name: 'ceilings', type: 'map<priority, number>', note: 'for domain explicit' },
    ],
  },
  { type: 'soft-reflective-ceiling-policy', role: 'usage-limit-policy', stability: 'alpha', does: 'as saturation rises, alternates which lower bands may dispatch, by rank and band count (takes no parameters; any is an error)', parameters: [] },
  { type: 'sheddable-eviction-filter', role: 'eviction-policy', stability: 'alpha', does: 'only in-flight sheddable (priority < 0) requests may be evicted (flowControl.enableEviction)', parameters: [] },
  { type: 'priority-then-time-eviction-order-policy', role: 'eviction-policy', stability: 'alpha', does: 'evicts the lowest priority first, ties the most recently dispatched first', parameters: [] },
  // ── request control ──
  {
    type: 'request-attribute-reporter', role: 'request-control', stability: 'beta',
    does: 'evaluates a CEL expression over the request/response and reports it as dynamic metadata',
    parameters: [{ name: 'attributes', type: '{key: {namespace (default envoy.lb), name}, expression (CEL), condition}[]', required: true, note: 'exactly one' }],
  },
  {
    type: 'agent-identity', role: 'request-control', stability: 'alpha',
    does: 'derives a session identity for coding agents from their session headers',
    parameters: [{ name: 'additionalSessionHeaders', type: 'string[]', note: 'built in: x-claude-code-session-id, x-session-affinity, session-id, session_id' }],
  },
  { type: 'outlen-bucket', role: 'request-control', stability: 'alpha', does: 'buckets requests by expected output length', parameters: [] },
  // ── parsers (requestHandler.parsers; openai, anthropic and vllmhttp by default) ──
  { type: 'openai-parser', role: 'parser', stability: 'beta', does: 'parses OpenAI completions/chat/responses bodies (the default)', parameters: [], infergate: 'built-in OpenAI body parsing (src/api)' },
  { type: 'anthropic-parser', role: 'parser', stability: 'beta', does: 'parses Anthropic Messages bodies', parameters: [] },
  { type: 'vllmhttp-parser', role: 'parser', stability: 'beta', does: 'parses vLLM’s own HTTP API bodies', parameters: [] },
  { type: 'sglanghttp-parser', role: 'parser', stability: 'beta', does: 'parses SGLang’s own HTTP API bodies', parameters: [] },
  { type: 'vllmgrpc-parser', role: 'parser', stability: 'beta', does: 'parses vLLM gRPC requests', parameters: [] },
  { type: 'vertexai-parser', role: 'parser', stability: 'beta', does: 'parses Vertex AI request bodies', parameters: [] },
  { type: 'passthrough-parser', role: 'parser', stability: 'beta', does: 'does not parse the body (no model-aware scheduling)', parameters: [] },
  // ── test ──
  {
    type: 'destination-endpoint-served-verifier', role: 'test', stability: 'beta',
    does: 'conformance: copies the endpoint Envoy served (lb metadata) into the x-conformance-test-served-endpoint response header',
    parameters: [], infergate: 'the same type in a conformance configuration (x-conformance-test-served-endpoint)',
  },
  // ── multicluster (alpha) ──
  { type: 'multicluster-session-affinity-filter', role: 'filter', stability: 'alpha', does: 'session affinity across clusters', parameters: [] },
  { type: 'multicluster-queue-scorer', role: 'scorer', stability: 'alpha', does: 'queue-scorer over endpoints of several clusters', parameters: [], nearest: 'queue-scorer' },
  { type: 'multicluster-kv-cache-utilization-scorer', role: 'scorer', stability: 'alpha', does: 'kv-cache-utilization-scorer over endpoints of several clusters', parameters: [], nearest: 'kv-cache-utilization-scorer' },
  { type: 'multicluster-metrics-data-source', role: 'data-source', stability: 'alpha', does: 'scrapes metrics of remote-cluster endpoints', parameters: [] },
  { type: 'multicluster-metrics-extractor', role: 'data-extractor', stability: 'alpha', does: 'extracts remote-cluster endpoint metrics', parameters: [] },
  { type: 'multicluster-file-discovery', role: 'endpoint-discovery', stability: 'alpha', does: 'reads remote-cluster endpoints from a file', parameters: [] },
];

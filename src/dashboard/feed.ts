/**
 * The dashboard's feed: what the page receives over its Server-Sent Events
 * stream. One `state` event with everything first, then incremental events
 * (`pools`, `point`, `decisions`, `routing`). The schemas are the contract:
 * the page validates every event with them (the wire is its boundary), and
 * the gateway implements `DashboardSource` to produce them.
 *
 * Runtime-neutral: imported by the server module and bundled into the page.
 */
import * as v from 'valibot';

const Count = v.pipe(v.number(), v.integer(), v.minValue(0));
/** A score or total as `round4` leaves it; JSON turns NaN/Infinity into null. */
const Score = v.nullable(v.number());
const Millis = v.pipe(v.number(), v.minValue(0));

// --- pools and pods ----------------------------------------------------------

export const PodView = v.object({
  /** `address:port`, the endpoint id everything else uses. */
  id: v.string(),
  /** vllm, sglang, trtllm, triton-trtllm. */
  engine: v.optional(v.string()),
  ready: v.boolean(),
  /** Leaving the pool (e.g. its Pod is terminating): finishes its requests, gets no new ones. */
  draining: v.boolean(),
  /** Requests queued on the model server (vLLM `num_requests_waiting`). */
  waiting: Count,
  /** Requests in its running batch (vLLM `num_requests_running`). */
  running: Count,
  /** KV-cache use, 0..1. */
  kvUsage: v.pipe(v.number(), v.minValue(0), v.maxValue(1)),
  /** The gateway's own dispatches not yet finished, when it counts them. */
  inFlight: v.optional(Count),
  activeAdapters: v.array(v.string()),
  waitingAdapters: v.array(v.string()),
  /** Most distinct adapters a batch may hold (0 when unknown). */
  maxAdapters: v.optional(Count),
  /** Age of its metrics at the event's `at`; null when never scraped. */
  metricAgeMs: v.nullable(Millis),
  /** Why the last scrape failed, if it did. */
  lastError: v.optional(v.string()),
});
export type PodView = v.InferOutput<typeof PodView>;

export const PoolView = v.object({
  name: v.string(),
  failureMode: v.optional(v.picklist(['FailOpen', 'FailClose'])),
  /** Scheduling profile name; unset: infergate's default. */
  profile: v.optional(v.string()),
  /** Pool saturation as the shedder computes it (mean of per-pod max(queue/5, kv/0.8)). */
  saturation: v.optional(v.number()),
  pods: v.array(PodView),
});
export type PoolView = v.InferOutput<typeof PoolView>;

// --- per-second series -------------------------------------------------------

export const Percentiles = v.object({ p50: Millis, p90: Millis, p99: Millis });
export type Percentiles = v.InferOutput<typeof Percentiles>;

/** One second of traffic. Counts are of requests that finished (or were shed/queued) in that second. */
export const SeriesPoint = v.object({
  /** Start of the second, ms since epoch. */
  t: v.number(),
  requests: Count,
  /** Answers with status ≥ 500, and connection failures (shed 429s are counted in `shed`). */
  errors: Count,
  /** Rejected by admission control with 429 (Sheddable traffic on a saturated pool). */
  shed: Count,
  /** Made to wait in flow control before being scheduled. */
  queued: Count,
  /** Time to first byte of the answer; null when no request finished in the second. */
  ttftMs: v.nullable(Percentiles),
  /** Whole request, first byte in to last byte out. */
  latencyMs: v.nullable(Percentiles),
});
export type SeriesPoint = v.InferOutput<typeof SeriesPoint>;

/** Counters since the gateway started; they never go down. */
export const Totals = v.object({ requests: Count, errors: Count, shed: Count, queued: Count });
export type Totals = v.InferOutput<typeof Totals>;

// --- decisions (src/scheduling/explain.ts's Explanation, as JSON) -------------

export const CandidateExplanation = v.object({
  id: v.string(),
  total: Score,
  /** Score in [0, 1] per scorer name, before weighting. */
  scores: v.record(v.string(), Score),
  ageMs: v.number(),
});

export const Rejection = v.object({ id: v.string(), by: v.string(), reason: v.string() });

/** The scheduler's explanation, field for field; loose so fields added later pass through. */
export const Explanation = v.looseObject({
  profile: v.string(),
  kernel: v.optional(v.picklist(['wasm', 'ts'])),
  picker: v.optional(v.string()),
  weights: v.optional(v.record(v.string(), v.number())),
  saturation: v.optional(Score),
  picked: v.optional(v.string()),
  considered: v.optional(Count),
  candidates: v.optional(v.array(CandidateExplanation)),
  filtered: v.optional(v.array(Rejection)),
  filteredCount: v.optional(Count),
  bypassed: v.optional(v.array(v.string())),
  shed: v.optional(v.string()),
  unavailable: v.optional(v.string()),
  failOpen: v.optional(v.boolean()),
  profileMissing: v.optional(v.string()),
});
export type Explanation = v.InferOutput<typeof Explanation>;

export const DecisionView = v.object({
  /** Increasing per gateway process: the page's key for a decision. */
  seq: Count,
  /** When it was decided, ms since epoch. */
  at: v.number(),
  requestId: v.optional(v.string()),
  /** The model the client asked for. */
  model: v.string(),
  /** The model sent upstream when the objective rewrote it (LoRA adapter, canary). */
  targetModel: v.optional(v.string()),
  objective: v.optional(v.string()),
  pool: v.string(),
  outcome: v.picklist(['route', 'shed', 'unavailable']),
  /** The picked endpoint (outcome `route`). */
  endpoint: v.optional(v.string()),
  /** Why it was shed or unavailable. */
  reason: v.optional(v.string()),
  /** Absent when no explanation was computed for this request. */
  explanation: v.optional(Explanation),
});
export type DecisionView = v.InferOutput<typeof DecisionView>;

// --- the routing table ------------------------------------------------------

/** A Kubernetes-style condition (as `infergate apply` reports them). */
export const Condition = v.object({
  type: v.string(),
  status: v.picklist(['True', 'False', 'Unknown']),
  reason: v.string(),
  message: v.string(),
});
export type Condition = v.InferOutput<typeof Condition>;

export const RoutingObjectView = v.object({
  /** Route, Pool, Model, Objective — the names ApplyRoutingTable reports objects by. */
  kind: v.string(),
  name: v.string(),
  /** One line on what it does ("→ gemma3 ×1", "priority 10 on pool x"). */
  summary: v.string(),
  conditions: v.array(Condition),
});
export type RoutingObjectView = v.InferOutput<typeof RoutingObjectView>;

export const RoutingView = v.object({
  /** 0 before the first table is accepted. */
  version: Count,
  objects: v.array(RoutingObjectView),
});
export type RoutingView = v.InferOutput<typeof RoutingView>;

// --- events -------------------------------------------------------------------

export const StateEvent = v.object({
  type: v.literal('state'),
  /** When the state was taken, ms since epoch (pods' metric ages are relative to it). */
  at: v.number(),
  pools: v.array(PoolView),
  /** The last seconds, oldest first. */
  series: v.array(SeriesPoint),
  totals: Totals,
  /** The last decisions, oldest first. */
  decisions: v.array(DecisionView),
  routing: RoutingView,
});
export type StateEvent = v.InferOutput<typeof StateEvent>;

/** Every pool as it is now (replaces the previous list). */
export const PoolsEvent = v.object({ type: v.literal('pools'), at: v.number(), pools: v.array(PoolView) });
/** A second has ended: its point is appended, totals replaced. */
export const PointEvent = v.object({ type: v.literal('point'), point: SeriesPoint, totals: Totals });
/** Decisions made since the previous event, oldest first (appended). */
export const DecisionsEvent = v.object({ type: v.literal('decisions'), decisions: v.array(DecisionView) });
/** A new routing table version (replaces the previous view). */
export const RoutingEvent = v.object({ type: v.literal('routing'), routing: RoutingView });

export const FeedEvent = v.variant('type', [StateEvent, PoolsEvent, PointEvent, DecisionsEvent, RoutingEvent]);
export type FeedEvent = v.InferOutput<typeof FeedEvent>;
/** The incremental events (everything but the initial state). */
export type FeedUpdate = Exclude<FeedEvent, StateEvent>;

/** Bounds the page keeps (and a source should not exceed in `state()`). */
export const FEED_LIMITS = { seriesSeconds: 300, decisions: 100 } as const;

// --- the port -------------------------------------------------------------------

/**
 * What the gateway implements so the dashboard can show it, without the
 * dashboard knowing the gateway.
 */
export interface DashboardSource {
  /** Everything as it is now; sent first on every connection. */
  state(): StateEvent | Promise<StateEvent>;
  /**
   * Call `listener` with each incremental event until the returned function
   * is called. The stream subscribes first, then asks for the state, then
   * forwards what it buffered meanwhile — so an event may repeat what the
   * state already holds: `pools` and `routing` replace, and the page skips
   * points and decisions it has (by `t` and `seq`).
   */
  subscribe(listener: (event: FeedUpdate) => void): () => void;
}

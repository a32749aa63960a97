/**
 * The extension points of a scheduling profile: producers write the data
 * scorers read and follow each request's lifecycle (llm-d's requestcontrol
 * data producers), filters narrow the candidates, scorers rate each one in
 * [0, 1] (combined as a weighted sum in the kernel) and hold no state, a
 * picker chooses. Built-in plugins are created by type from ./registry.ts.
 */
import type { Endpoint, EndpointMetrics } from '../../endpoints/types.ts';
import type { Pool } from '../../routing/schema.ts';
import type { Kernel, PickerKind, ScorerKind } from '../kernel/layout.ts';
import type { EndpointRecord } from '../pool-state.ts';
import type { PoolSnapshot } from '../../endpoints/types.ts';
import type { SchedulingRequest } from '../scheduler.ts';

/** What plugins add to a decision's explanation (present only when one was asked for). */
export interface ExplainNotes {
  /** Merged into the explanation's top level. */
  pool: Record<string, unknown>;
  /** The notes object of one endpoint, merged into its candidate entry. */
  candidate(id: string): Record<string, unknown>;
}

export interface Candidate {
  endpoint: Endpoint;
  metrics: EndpointMetrics;
  /** Age of the metrics at decision time, ms. */
  ageMs: number;
  record: EndpointRecord;
}

export interface Rejection {
  id: string;
  by: string;
  reason: string;
}

export interface DecisionContext {
  pool: Pool;
  request: SchedulingRequest;
  now: number;
  kernel: Kernel;
  /** Prompt blocks hashed for prefix scoring (0 when none). */
  promptBlocks: number;
  /** The approx-prefix-cache producer has written `kernel.prefixMatched` for these candidates. */
  prefixMatched?: boolean;
  /** Collects why endpoints were filtered out; only when an explanation was asked for. */
  rejected: Rejection[] | undefined;
  /** Plugins' notes for the explanation; only when one was asked for. */
  notes?: ExplainNotes;
}

export interface FilterPlugin {
  readonly kind: 'filter';
  readonly type: string;
  readonly name: string;
  /**
   * When it keeps no candidate the request is unavailable. Other filters are
   * bypassed then (infergate's rule: a narrowing that leaves nothing is
   * ignored rather than failing the request).
   */
  readonly strict?: boolean;
  /** The candidates to keep (a new array or the input itself). */
  filter(candidates: Candidate[], ctx: DecisionContext): Candidate[];
}

export interface ScorerPlugin {
  readonly kind: 'scorer';
  readonly type: string;
  readonly name: string;
  /** Which kernel scorer does the per-endpoint arithmetic. */
  readonly scorer: ScorerKind;
  /** The kernel's per-scorer parameter (`scorerParam`), 0 when unused. */
  readonly param?: number;
  /** The producer type whose data this scorer reads (one is added to the profile when none is configured). */
  readonly requires?: string;
  /** Write this scorer's input column(s) for candidates[0..n) from their metrics (none: it reads a producer's column). */
  prepare?(candidates: Candidate[], ctx: DecisionContext): void;
}

/**
 * A data producer: before scoring it writes per-candidate data into the
 * kernel's columns; at the request's lifecycle points it updates what it
 * keeps (the prefix index, the prefill queued per endpoint).
 */
export interface ProducerPlugin {
  readonly kind: 'producer';
  readonly type: string;
  readonly name: string;
  /** Producer types that must run before this one in a decision (it reads their output). */
  readonly after?: readonly string[];
  /**
   * Optional: fetch what `produce` will need and cannot get synchronously
   * (a prompt's token ids). Undefined when nothing is to be waited for; the
   * promise never rejects.
   */
  prepare?(pool: Pool, snapshot: PoolSnapshot, request: SchedulingRequest): Promise<void> | undefined;
  /** Write this producer's column(s) for candidates[0..n) into the kernel. */
  produce(candidates: Candidate[], ctx: DecisionContext): void;
  /** The request went to this endpoint (e.g. it now holds the prompt's blocks). */
  dispatched?(pool: Pool, endpoint: Endpoint, record: EndpointRecord, request: SchedulingRequest, kernel: Kernel): void;
  /** The endpoint sent the first byte of its answer (the prompt's prefill is done). */
  firstToken?(pool: Pool, endpoint: Endpoint, record: EndpointRecord, request: SchedulingRequest): void;
  /** The request to this endpoint ended, however it ended. */
  completed?(pool: Pool, endpoint: Endpoint, record: EndpointRecord, request: SchedulingRequest): void;
  /** Prompt tokens this gateway has dispatched to the endpoint whose prefill is not done yet (flow control reads it). */
  pendingPrefillTokens?(pool: string, record: EndpointRecord): number;
  /** Entries its index holds, for a producer that keeps one (the prefix indexer's size metric). */
  indexSize?(): number;
}

export interface PickerPlugin {
  readonly kind: 'picker';
  readonly type: string;
  readonly name: string;
  readonly picker: PickerKind;
}

export type Plugin = ProducerPlugin | FilterPlugin | ScorerPlugin | PickerPlugin;

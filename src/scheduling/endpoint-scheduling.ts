/**
 * The scheduling port the gateway's director holds: where a request goes,
 * and what happens to it afterwards. One port for every runtime — decided in
 * this process (LocalScheduling: the endpoint picker over the endpoint
 * source's snapshot) or elsewhere (Workers: the pool's Durable Object) — so
 * the core never asks which: it awaits `pick` either way.
 */
import type { Endpoint } from '../endpoints/types.ts';
import type { Pool } from '../routing/schema.ts';
import type { AdmitResult } from '../flowcontrol/controller.ts';
import type { Decision, SchedulingRequest } from './scheduler.ts';
import type { ServedModelEntry } from './served-models.ts';

/** How a dispatched request ended, for passive health and the producers. */
export interface Outcome {
  /** The endpoint's answer status; 0 when it sent none. */
  status: number;
  /**
   * Why no (complete) answer came: `connect` (refused, or failed before the
   * request was written), `broken` (closed, reset or malformed after it was
   * written, or the answer cut off mid-body), `timeout` (no answer head in
   * time), `aborted` (the client went away).
   */
  failure?: 'connect' | 'timeout' | 'aborted' | 'broken';
  /** The endpoint's `Retry-After`, seconds, when it answered 429 or 503 with one. */
  retryAfterSeconds?: number;
}

/** What admission needs of the client's abort signal. */
export interface ClientSignalLike {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export interface Readiness {
  ready: boolean;
  /** Why not ready, or what is degraded while still ready. */
  reason?: string;
  /** Pools that serve in a degraded way (e.g. FailOpen without metrics). */
  degraded?: string[];
}

export interface EndpointScheduling {
  /**
   * Optional flow control: let the request through now, make it wait until the
   * pool has room, or refuse it. Absent: every request goes straight to `pick`.
   */
  admit?(pool: Pool, request: SchedulingRequest, bytes: number, signal: ClientSignalLike): AdmitResult | Promise<AdmitResult>;
  /** Decide where this request goes: synchronous here, a promise where decisions are made elsewhere. */
  pick(pool: Pool, request: SchedulingRequest): Decision | Promise<Decision>;
  /** The request was sent to this endpoint (the pick's, or a fallback's). */
  dispatched(pool: Pool, endpoint: Endpoint, request: SchedulingRequest): void;
  /** The endpoint sent the first byte of a streamed answer: its prefill of this prompt is over. */
  firstToken(pool: Pool, endpoint: Endpoint, request: SchedulingRequest): void;
  /** The request to this endpoint ended, however it ended. */
  completed(pool: Pool, endpoint: Endpoint, request: SchedulingRequest, outcome: Outcome): void;
  /** Whether these pools can be served (a readiness probe's question). */
  readiness(pools: readonly Pool[]): Readiness | Promise<Readiness>;
  /** Optional: the models the pools' servers serve, base models and adapters, for `GET /v1/models`. */
  servedModels?(pools: readonly Pool[]): ServedModelEntry[];
}

/**
 * The endpoint picker: admission (no candidates, no fresh metrics, saturation
 * shedding), then the pool's scheduling profile — filters in TypeScript, the
 * producers' data and the scorers' inputs written into the kernel, the
 * scorers' arithmetic, the weighted sum and the pick in the kernel — and the
 * request's lifecycle handed to the profile's producers (prefix index,
 * prefill queued) and the in-flight counts.
 */
import type { Endpoint, PoolSnapshot } from '../endpoints/types.ts';
import type { Pool } from '../routing/schema.ts';
import type { EndpointPickerConfig, SaturationConfig } from './config.ts';
import { addRejections, explainPick, round4, type Explanation } from './explain.ts';
import { MAX_ENDPOINTS, type Kernel } from './kernel/layout.ts';
import type { Candidate, DecisionContext, ExplainNotes, Plugin, ProducerPlugin, Rejection } from './plugins/types.ts';
import { PoolState } from './pool-state.ts';
import type { SchedulingServices } from './prompt-tokens.ts';
import { buildProfiles, DEFAULT_PROFILE, type Profile } from './profile.ts';
import { endpointSaturation, isSheddable } from './saturation.ts';
import { requestKey, type Decision, type Scheduler, type SchedulingRequest } from './scheduler.ts';
import type { DurationSink, PluginTiming } from './timing.ts';

export interface EndpointPickerOptions {
  now: () => number;
  random: () => number;
  /** Endpoints returned as fallbacks with a route decision. */
  fallbacks: number;
  /** What plugins need besides their parameters (the KV-event index, a tokenizer). */
  services?: SchedulingServices;
}

/** Forget endpoints unseen this long with nothing in flight. */
const PRUNE_IDLE_MS = 5 * 60_000;

export class EndpointPicker implements Scheduler {
  readonly #profiles: Map<string, Profile>;
  readonly #pools = new Map<string, PoolState>();
  readonly #saturation: SaturationConfig;
  readonly #staleAfter: number;
  readonly #served: { servedEndpointHeaders: readonly string[] } | undefined;
  readonly #candidates: Candidate[] = [];
  readonly #pooledCandidates: Candidate[] = [];
  #decisions = 0;
  #timing: PluginTiming | undefined;
  readonly #sinks = new Map<object, DurationSink>();

  constructor(
    readonly kernel: Kernel,
    builtIn: EndpointPickerConfig,
    config: EndpointPickerConfig | undefined,
    private readonly options: EndpointPickerOptions,
  ) {
    this.#profiles = buildProfiles(builtIn, options.services);
    if (config) for (const [name, p] of buildProfiles(config, options.services)) this.#profiles.set(name, p);
    const effective = config ?? builtIn;
    this.#saturation = effective.saturation;
    this.#staleAfter = effective.metricsStaleAfterMs;
    this.#served = effective.servedEndpointHeaders.length ? { servedEndpointHeaders: effective.servedEndpointHeaders } : undefined;
  }

  get saturation(): SaturationConfig {
    return this.#saturation;
  }

  /** With no endpoint's metrics this fresh, the pool's failure mode applies, ms. */
  get staleAfterMs(): number {
    return this.#staleAfter;
  }

  /** Report each plugin's duration and the picked endpoint's prefix hits from now on (costs a clock read per plugin). */
  observe(timing: PluginTiming): void {
    this.#timing = timing;
    this.#sinks.clear();
  }

  /** This gateway's requests to an endpoint not yet finished (undefined when it has sent none); reads without creating a record. */
  inFlightCount(pool: string, endpointId: string): number | undefined {
    return this.#pools.get(pool)?.peek(endpointId)?.inFlight.total;
  }

  /** Entries the profiles' prefix indexes hold, across pools. */
  prefixIndexSize(): number {
    const seen = new Set<ProducerPlugin>();
    let size = 0;
    for (const p of this.#profiles.values()) for (const producer of p.producers) if (!seen.has(producer) && producer.indexSize) (seen.add(producer), (size += producer.indexSize()));
    return size;
  }

  /** Profiles a pool may name. */
  profileNames(): string[] {
    return [...this.#profiles.keys()];
  }

  decide(pool: Pool, snapshot: PoolSnapshot, request: SchedulingRequest): Decision {
    const now = this.options.now();
    const profile = this.#profileFor(pool);
    const state = this.#poolState(pool.name, now);
    const explain: Explanation | undefined = request.explain ? { profile: profile.name, kernel: this.kernel.implementation } : undefined;
    if (explain && pool.profile !== undefined && pool.profile !== profile.name) explain.profileMissing = pool.profile;

    // Counted, not collected: the common path allocates no per-endpoint arrays.
    let ready = 0;
    let fresh = 0;
    for (const e of snapshot.endpoints) {
      if (!e.ready) continue;
      ready++;
      if (e.metrics !== undefined && e.scrapedAt !== undefined && now - e.scrapedAt <= this.#staleAfter) fresh++;
    }
    if (ready === 0) return unavailable(`pool "${pool.name}" has no ready endpoint`, explain);
    if (!snapshot.hasMetrics || fresh === 0) return this.#withoutMetrics(pool, snapshot.endpoints.filter((e) => e.ready), state, now, explain);

    const sheddable = isSheddable(request);
    if (sheddable || explain) {
      const saturation = readySaturation(snapshot.endpoints, ready, now, this.#saturation);
      if (explain) explain.saturation = round4(saturation);
      if (sheddable && saturation >= this.#saturation.threshold) {
        // ASCII only: the reason travels in a response header (x-infergate-decision), and Node refuses non-Latin-1 there.
        const reason = `pool "${pool.name}" is saturated (${round4(saturation)} >= ${this.#saturation.threshold}) and the request is sheddable`;
        if (explain) explain.shed = reason;
        return { kind: 'shed', reason, retryAfterSeconds: this.#saturation.retryAfterSeconds, ...(explain ? { explain } : {}) };
      }
    }

    const rejected: Rejection[] | undefined = explain ? [] : undefined;
    // Candidate objects and the array holding them are reused from decision to decision (decide is synchronous
    // and nothing keeps them): 256 fresh objects per decision were most of its garbage.
    // Written by index and truncated once: `length = 0` would drop the backing store and every push regrow it.
    let candidates: Candidate[] = this.#candidates;
    let count = 0;
    const pooled = this.#pooledCandidates;
    const records = state.recordsFor(snapshot.endpoints, now);
    for (let i = 0; i < snapshot.endpoints.length; i++) {
      const e = snapshot.endpoints[i]!;
      if (!e.ready) continue;
      if (e.metrics === undefined) {
        rejected?.push({ id: e.id, by: 'metrics', reason: e.lastError ? `no metrics: ${e.lastError}` : 'no metrics yet' });
        continue;
      }
      const ageMs = e.scrapedAt === undefined ? Infinity : now - e.scrapedAt;
      let c = pooled[count];
      if (c === undefined) {
        c = { endpoint: e, metrics: e.metrics, ageMs, record: records[i]! };
        pooled.push(c);
      } else {
        c.endpoint = e;
        c.metrics = e.metrics;
        c.ageMs = ageMs;
        c.record = records[i]!;
      }
      candidates[count++] = c;
    }
    if (candidates.length !== count) candidates.length = count;
    const notes = explain ? explainNotes() : undefined;
    const ctx: DecisionContext = { pool, request, now, kernel: this.kernel, promptBlocks: 0, rejected, notes };
    const timing = this.#timing;
    let t = timing ? performance.now() : 0;
    for (const filter of profile.filters) {
      const before = rejected?.length ?? 0;
      const kept = filter.filter(candidates, ctx);
      if (timing) t = this.#lap(filter, 'Filter', t);
      if (kept.length > 0) {
        candidates = kept;
        continue;
      }
      if (filter.strict) return unavailable(`no endpoint of pool "${pool.name}" passes ${filter.type} "${filter.name}"`, explain);
      if (rejected) rejected.length = before;
      if (explain) (explain.bypassed ??= []).push(filter.name);
    }
    // The kernel's regions hold MAX_ENDPOINTS; larger pools are scored on their first MAX_ENDPOINTS candidates.
    if (candidates.length > MAX_ENDPOINTS) candidates.length = MAX_ENDPOINTS;

    const kernel = this.kernel;
    const producers = profile.producers;
    for (let k = 0; k < producers.length; k++) {
      producers[k]!.produce(candidates, ctx);
      if (timing) t = this.#lap(producers[k]!, 'Producer', t);
    }
    const scorers = profile.scorers;
    for (let k = 0; k < scorers.length; k++) {
      const s = scorers[k]!;
      s.plugin.prepare?.(candidates, ctx);
      if (timing) t = this.#lap(s.plugin, 'Scorer', t);
      kernel.scorerKind[k] = s.plugin.scorer;
      kernel.scorerWeight[k] = s.weight;
      kernel.scorerParam[k] = s.plugin.param ?? 0;
    }
    const seed = (this.options.random() * 4294967296) >>> 0;
    const picked = kernel.scoreAndPick(candidates.length, profile.scorers.length, ctx.promptBlocks, profile.picker.picker, seed, this.options.fallbacks);
    if (timing) {
      // The kernel runs every scorer's arithmetic, the weighted sum and the picker in one call: timed as the picker.
      this.#lap(profile.picker, 'Picker', t);
      if (ctx.prefixMatched && ctx.promptBlocks > 0) timing.prefixHit(kernel.prefixMatched[picked]!, ctx.promptBlocks);
    }
    const fallbacks: Endpoint[] = [];
    for (let j = 1; j <= this.options.fallbacks; j++) {
      const i = kernel.order[j]!;
      if (i < 0) break;
      fallbacks.push(candidates[i]!.endpoint);
    }
    if (explain) explainPick(explain, profile, kernel, candidates, picked, rejected!, notes);
    return { kind: 'route', endpoint: candidates[picked]!.endpoint, fallbacks, ...(explain ? { explain } : {}), ...this.#served };
  }

  /** Lets the profile's producers fetch what the decision needs (token ids); undefined when none has to wait. */
  prepare(pool: Pool, snapshot: PoolSnapshot, request: SchedulingRequest): Promise<void> | undefined {
    const producers = this.#profileFor(pool).producers;
    let waits: Promise<void>[] | undefined;
    for (let k = 0; k < producers.length; k++) {
      const w = producers[k]!.prepare?.(pool, snapshot, request);
      if (w) (waits ??= []).push(w);
    }
    if (!waits) return undefined;
    return waits.length === 1 ? waits[0] : Promise.all(waits).then(() => undefined);
  }

  dispatched(pool: Pool, endpoint: Endpoint, request: SchedulingRequest): void {
    const now = this.options.now();
    const record = this.#poolState(pool.name, now).record(endpoint.id, now);
    record.inFlight.dispatched(requestKey(request), now);
    for (const p of this.#profileFor(pool).producers) p.dispatched?.(pool, endpoint, record, request, this.kernel);
  }

  firstToken(pool: Pool, endpoint: Endpoint, request: SchedulingRequest): void {
    const producers = this.#profileFor(pool).producers;
    const now = this.options.now();
    const record = this.#poolState(pool.name, now).record(endpoint.id, now);
    for (const p of producers) p.firstToken?.(pool, endpoint, record, request);
  }

  completed(pool: Pool, endpoint: Endpoint, request: SchedulingRequest): void {
    const now = this.options.now();
    const record = this.#poolState(pool.name, now).record(endpoint.id, now);
    record.inFlight.completed(requestKey(request));
    for (const p of this.#profileFor(pool).producers) p.completed?.(pool, endpoint, record, request);
  }

  /** Record the time since `since` for `plugin`; returns now. */
  #lap(plugin: Plugin, point: string, since: number): number {
    const now = performance.now();
    let sink = this.#sinks.get(plugin);
    if (!sink) this.#sinks.set(plugin, (sink = this.#timing!.plugin(point, plugin.type, point === 'Picker' ? `${plugin.name} (${this.kernel.implementation} kernel)` : plugin.name)));
    sink.observe((now - since) / 1000);
    return now;
  }

  inFlight(pool: Pool, endpoint: Endpoint, prefill = true): { total: number; unreflected: number; prefillTokens: number } {
    const now = this.options.now();
    const record = this.#poolState(pool.name, now).record(endpoint.id, now);
    let prefillTokens = 0;
    if (prefill) for (const p of this.#profileFor(pool).producers) prefillTokens += p.pendingPrefillTokens?.(pool.name, record) ?? 0;
    return { total: record.inFlight.total, unreflected: record.inFlight.unreflected(endpoint.scrapedAt), prefillTokens };
  }

  readyInFlight(pool: Pool, endpoints: readonly Endpoint[]): Readonly<{ ready: number; inFlight: number }> {
    return this.#poolState(pool.name, this.options.now()).onReady(endpoints);
  }

  /** No fresh metrics: FailOpen routes by this gateway's in-flight counts alone, FailClose refuses. */
  #withoutMetrics(pool: Pool, ready: Endpoint[], state: PoolState, now: number, explain: Explanation | undefined): Decision {
    if (pool.failureMode !== 'FailOpen') {
      return unavailable(`pool "${pool.name}" has no endpoint with fresh metrics (failure mode FailClose)`, explain);
    }
    const order = ready.map((e) => ({ e, load: state.record(e.id, now).inFlight.total, r: this.options.random() }));
    order.sort((a, b) => a.load - b.load || a.r - b.r);
    if (explain) {
      explain.failOpen = true;
      explain.picked = order[0]!.e.id;
      addRejections(explain, []);
    }
    const fallbacks = order.slice(1, 1 + this.options.fallbacks).map((o) => o.e);
    return { kind: 'route', endpoint: order[0]!.e, fallbacks, ...(explain ? { explain } : {}), ...this.#served };
  }

  #profileFor(pool: Pool): Profile {
    return (pool.profile !== undefined ? this.#profiles.get(pool.profile) : undefined) ?? this.#profiles.get(DEFAULT_PROFILE)!;
  }

  #poolState(name: string, now: number): PoolState {
    let s = this.#pools.get(name);
    if (s === undefined) {
      s = new PoolState();
      this.#pools.set(name, s);
    }
    if ((++this.#decisions & 1023) === 0) for (const p of this.#pools.values()) p.prune(now, PRUNE_IDLE_MS);
    return s;
  }
}

/** Mean saturation over the ready endpoints (`ready` of them, > 0). */
function readySaturation(endpoints: readonly Endpoint[], ready: number, now: number, config: SaturationConfig): number {
  let sum = 0;
  for (const e of endpoints) if (e.ready) sum += endpointSaturation(e, now, config);
  return sum / ready;
}

function explainNotes(): ExplainNotes {
  const byId = new Map<string, Record<string, unknown>>();
  return {
    pool: {},
    candidate(id) {
      let n = byId.get(id);
      if (!n) byId.set(id, (n = {}));
      return n;
    },
  };
}

function unavailable(reason: string, explain: Explanation | undefined): Decision {
  if (explain) explain.unavailable = reason;
  return { kind: 'unavailable', reason, ...(explain ? { explain } : {}) };
}

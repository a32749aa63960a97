/**
 * The end-to-end mode's open-loop load generator: sends each request at its
 * (time-scaled) arrival time as a streaming /v1/completions call through the
 * gateway, and measures what a client sees — TTFT at the first token event,
 * time per output token, end to end — in engine time (wall ÷ time scale).
 */
import { Pool } from 'undici';
import type { Criticality } from '../../src/routing/schema.ts';
import { LogHistogram, percentile, Samples } from '../lib/stats.ts';
import { GroupCollector } from './groups.ts';
import type { RequestSpec, RunMetrics, Workload } from './types.ts';
import { materialize } from './workloads/common.ts';

export interface LoadResult {
  ttft: Samples;
  e2e: Samples;
  tpot: LogHistogram;
  shed: Record<Criticality, number>;
  errors: number;
  windowTokens: number;
  measured: number;
  /** How late requests were sent, ms wall (load-generator lag). */
  sendLagP99: number;
  groups: GroupCollector;
  /** Failures of measured requests by HTTP status (or "no tokens", "connection"), with the first answer of each. */
  failures: Record<string, { count: number; first: string }>;
}

/**
 * A run's metrics from what the load generator measured and the pods' counters summed (`sum`): latencies in
 * engine ms, throughput over the measured window. Completion rate and queue lateness are not known end to end.
 */
export function loadMetrics(strategy: string, workload: Workload, load: LoadResult, sum: (counter: string) => number, startedAt: number, adapterLoads: number): RunMetrics {
  const ttft = load.ttft.sorted();
  return {
    strategy, requests: workload.requests.length, measured: load.measured,
    ttft: { p50: percentile(ttft, 0.5), p90: percentile(ttft, 0.9), p99: percentile(ttft, 0.99) },
    itl: { p50: load.tpot.percentile(0.5), p99: load.tpot.percentile(0.99) },
    e2eP99: percentile(load.e2e.sorted(), 0.99),
    outputTokensPerS: (load.windowTokens * 1000) / (workload.durationMs - workload.warmupMs),
    completedPerS: NaN, prefixHitRate: sum('prefix_hits') / Math.max(1, sum('prefix_queries')), adapterLoads,
    shed: load.shed, errors: load.errors, unfinished: 0, lateQueueP50: NaN, wallMs: performance.now() - startedAt,
  };
}

/** llm-d's header naming a request's fairness flow (the older alias is x-gateway-inference-fairness-id). */
export const FAIRNESS_HEADER = 'x-llm-d-inference-fairness-id';
/** The InferenceObjective a request opts into: the name the gateway reads today, and llm-d's current one. */
export const OBJECTIVE_HEADERS = ['x-gateway-inference-objective', 'x-llm-d-inference-objective'] as const;

/** The objective of each criticality in a pool (e2e.ts writes them into the manifests: priority 1, 0, −1). */
export function objectiveName(pool: string, criticality: Criticality): string {
  return `${pool}-${criticality.toLowerCase()}`;
}

/** The headers a request carries: its objective (criticality) and its fairness flow, if any. */
export function requestHeaders(spec: RequestSpec): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  for (const h of OBJECTIVE_HEADERS) headers[h] = objectiveName(spec.pool, spec.criticality);
  if (spec.tenant !== undefined) headers[FAIRNESS_HEADER] = spec.tenant;
  return headers;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function driveLoad(url: string, workload: Workload, timeScale: number): Promise<LoadResult> {
  // No cap on connections: an open-loop generator that queued requests on its side would add the same wait to every
  // request, whatever the gateway does (a cap of 512 hid flow control's ordering behind the generator's own FIFO).
  // No client timeouts either: undici's 300 s headers timeout cut off requests that flow control held for 60 s of
  // engine time at --time-scale 5 (682 "Headers Timeout Error" failures on noisy-neighbour); how long a request may
  // wait is the gateway's to decide (its TTL), and the run measures it.
  const pool = new Pool(url, { connections: null, pipelining: 0, keepAliveTimeout: 60_000, headersTimeout: 0, bodyTimeout: 0 });
  const r: LoadResult = {
    ttft: new Samples(), e2e: new Samples(), tpot: new LogHistogram(), shed: { Critical: 0, Standard: 0, Sheddable: 0 }, errors: 0, windowTokens: 0, measured: 0, sendLagP99: 0,
    groups: new GroupCollector(workload.groups),
    failures: {},
  };
  const fail = (kind: string, detail: string) => {
    const f = (r.failures[kind] ??= { count: 0, first: detail.slice(0, 300) });
    f.count++;
  };
  const lag = new Samples();
  const start = performance.now();
  const engineNow = () => (performance.now() - start) / timeScale;
  const inFlight: Promise<void>[] = [];

  const one = async (spec: RequestSpec): Promise<void> => {
    const measured = spec.at >= workload.warmupMs;
    if (measured) {
      r.measured++;
      r.groups.measured(spec.groups);
    }
    const body = JSON.stringify({ model: spec.model, prompt: materialize(spec.parts), max_tokens: spec.outputTokens, ignore_eos: true, stream: true });
    const sent = engineNow();
    lag.push((sent - spec.at) * timeScale);
    try {
      const res = await pool.request({ path: '/v1/completions', method: 'POST', headers: requestHeaders(spec), body });
      if (res.statusCode !== 200) {
        const answer = await res.body.text();
        if (!measured) return;
        if (res.statusCode === 429) r.shed[spec.criticality]++;
        else {
          r.errors++;
          fail(String(res.statusCode), answer);
        }
        r.groups.lost(spec.groups, res.statusCode === 429);
        return;
      }
      let first = -1;
      let last = -1;
      let tokens = 0;
      for await (const chunk of res.body) {
        const now = engineNow();
        const text = (chunk as Buffer).toString('utf8');
        let n = 0;
        for (let i = text.indexOf('"text"'); i >= 0; i = text.indexOf('"text"', i + 6)) n++;
        if (n === 0) continue;
        if (first < 0) first = now;
        last = now;
        tokens += n;
        if (now >= workload.warmupMs && now < workload.durationMs) r.windowTokens += n;
      }
      if (!measured) return;
      if (first < 0) {
        r.errors++;
        fail('no tokens', '');
        r.groups.lost(spec.groups, false);
        return;
      }
      r.ttft.push(first - spec.at);
      r.groups.served(spec.groups, first - spec.at);
      r.e2e.push(last - spec.at);
      if (tokens > 1) r.tpot.observe((last - first) / (tokens - 1));
    } catch (err) {
      // A failed request is counted, not thrown: the run measures how many fail.
      if (measured) {
        r.errors++;
        r.groups.lost(spec.groups, false);
        fail('connection', (err as Error).message);
      }
    }
  };

  for (const spec of workload.requests) {
    const wait = spec.at * timeScale - (performance.now() - start);
    if (wait > 1) await sleep(wait);
    inFlight.push(one(spec));
  }
  await Promise.all(inFlight);
  await pool.close();
  r.sendLagP99 = percentile(lag.sorted(), 0.99);
  return r;
}

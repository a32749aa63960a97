/**
 * The routing benchmark cannot rot: small slices of its quick modes, with
 * assertions a broken harness or scheduler would fail (see docs/routing-benchmark.md).
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadKernelModule } from '../src/runtime/node/index.ts';
import { countTokens, blockHashes } from '../src/sim/text.ts';
import { ttftChart } from '../bench/routing/chart.ts';
import { checkTargets, resultTable } from '../bench/routing/report.ts';
import { runWorkloadSim } from '../bench/routing/run.ts';
import { runSimulated } from '../bench/routing/sim-loop.ts';
import { EXTRA_STRATEGIES, STRATEGIES, strategyByName } from '../bench/routing/strategies/index.ts';
import { textOfTokens } from '../bench/routing/text.ts';
import { materialize } from '../bench/routing/workloads/common.ts';
import { multiLora } from '../bench/routing/workloads/multi-lora.ts';
import { sharedPrefix } from '../bench/routing/workloads/shared-prefix.ts';
import { loadTrace, resolveTracePath, reuseCeiling, traceWorkload } from '../bench/routing/workloads/trace.ts';
import { runTraceSim } from '../bench/routing/trace-run.ts';
import { agent, AGENT, toolSetTokens } from '../bench/routing/workloads/agent.ts';
import { documentQa, DOCUMENT_QA } from '../bench/routing/workloads/document-qa.ts';
import { noisyNeighbour, NOISY } from '../bench/routing/workloads/noisy-neighbour.ts';
import { priorityBurst, PRIORITY_BURST } from '../bench/routing/workloads/priority-burst.ts';
import { FAIRNESS_HEADER, requestHeaders } from '../bench/routing/e2e-load.ts';
import { flowControlTargets, groupTable, unloadedTable } from '../bench/routing/report-groups.ts';
import type { RequestSpec, Workload } from '../bench/routing/types.ts';

const kernel = await loadKernelModule();
const strategy = (name: string) => strategyByName(name)!;
const hasTraces = existsSync(resolveTracePath('conversation_trace.jsonl'));

describe('routing benchmark: text and workloads', () => {
  it('makes text of exactly the asked token count, shared parts hash alike', () => {
    for (const n of [1, 17, 512, 3000]) expect(countTokens(textOfTokens(`t${n}`, n))).toBe(n);
    const w = sharedPrefix.generate({ seed: 3, rate: 20, durationMs: 20_000 });
    const same = w.requests.filter((r) => r.parts[0]![0] === w.requests[0]!.parts[0]![0]).slice(0, 2);
    expect(same.length).toBe(2);
    const [a, b] = same.map((r) => blockHashes(materialize(r.parts), 16));
    const sys = Math.floor(same[0]!.parts[0]![1] / 64);
    expect(a!.slice(0, sys)).toEqual(b!.slice(0, sys));
    for (const r of w.requests.slice(0, 50)) expect(countTokens(materialize(r.parts))).toBe(r.promptTokens);
  });

  it('is deterministic by seed', () => {
    const w = multiLora.generate({ seed: 5, rate: 8, durationMs: 15_000 });
    expect(multiLora.generate({ seed: 5, rate: 8, durationMs: 15_000 }).requests).toEqual(w.requests);
    for (const name of ['random', 'infergate-default']) {
      const { wallMs: _a, ...one } = runSimulated(w, strategy(name), { seed: 9, kernel });
      const { wallMs: _b, ...two } = runSimulated(w, strategy(name), { seed: 9, kernel });
      expect(two).toEqual(one);
    }
  });
});

describe('routing benchmark: simulated time', () => {
  it('ranks strategies on multi-lora at 95% as the design says (random worse than least-request; infergate ≤ ½ round-robin)', () => {
    const names = ['random', 'round-robin', 'least-request', 'infergate-default'];
    const r = runWorkloadSim(multiLora, {
      seed: 1, durationMs: 40_000, levels: [0.95], strategies: STRATEGIES.filter((s) => names.includes(s.name)), kernel,
    });
    const p99 = Object.fromEntries(r.levels[0]!.runs.map((m) => [m.strategy, m.ttft.p99]));
    expect(p99['random']).toBeGreaterThan(p99['least-request']!);
    expect(p99['infergate-default']).toBeLessThanOrEqual(0.5 * p99['round-robin']!);
    for (const m of r.levels[0]!.runs) {
      expect(m.errors + m.unfinished).toBe(0);
      expect(m.measured).toBeGreaterThan(200);
    }
    expect(resultTable(r)).toContain('| 95% (');
    expect(ttftChart(r)).toMatch(/^<svg[\s\S]*infergate-default[\s\S]*<\/svg>\n$/);
    const [check] = checkTargets(r);
    expect(check?.halfOfRoundRobin).toBe(true);
    expect(check?.criticalShed).toBe(0);
  }, 60_000);
});

describe.skipIf(!hasTraces)('routing benchmark: trace replay', () => {
  it('reproduces the README reuse ceiling of the Mooncake conversation trace', () => {
    const trace = loadTrace('conversation_trace.jsonl');
    const w = traceWorkload(trace, { pods: 1, speed: 1 });
    expect(reuseCeiling(trace, { ...w, warmupMs: 0 }, { pods: 1, speed: 1 })).toBeCloseTo(0.374, 3);
  });

  it('replays a slice: prefix-aware routing reuses more of the ceiling than round-robin', () => {
    const r = runTraceSim({
      file: 'conversation_trace.jsonl', seed: 1, speeds: [1], fromMs: 0, spanMs: 300_000, pods: 3, kernel,
      strategies: [strategy('round-robin'), strategy('infergate-default')],
    });
    const [rr, ig] = r.levels[0]!.runs;
    expect(r.levels[0]!.ceiling).toBeGreaterThan(0.15);
    expect(ig!.prefixHitRate).toBeGreaterThan(rr!.prefixHitRate);
    expect(ig!.errors + ig!.unfinished).toBe(0);
  }, 60_000);
});

const tokens = (chars: number) => chars / 4;
/** Requests arriving in the measured window. */
const measuredOf = (w: Workload) => w.requests.filter((r) => r.at >= w.warmupMs && r.at < w.durationMs);
const share = (rs: readonly RequestSpec[], pred: (r: RequestSpec) => boolean) => rs.filter(pred).length / rs.length;
/** Variance / mean of counts per 1 s bin: 1 for Poisson arrivals, more for clustered ones. */
function dispersion(times: readonly number[], fromMs: number, toMs: number): number {
  const bins = new Array<number>(Math.ceil((toMs - fromMs) / 1000)).fill(0);
  for (const t of times) if (t >= fromMs && t < toMs) bins[Math.floor((t - fromMs) / 1000)]!++;
  const mean = bins.reduce((a, b) => a + b, 0) / bins.length;
  return bins.reduce((a, b) => a + (b - mean) ** 2, 0) / bins.length / mean;
}

describe('routing benchmark: the workloads of issues 17 and 19', () => {
  const agentRun = agent.generate({ seed: 1, rate: 20, durationMs: 120_000 });

  it('agent: tool-set system prompts of 3–8k tokens, a few of them, each shared by many sessions', () => {
    const sessions = agentRun.requests.filter((r) => r.session !== undefined);
    const bySet = new Map<string, Set<number>>();
    for (const r of sessions) {
      const [tag, chars] = r.parts[0]!;
      expect(tokens(chars)).toBeGreaterThanOrEqual(AGENT.toolSetTokens[0]);
      expect(tokens(chars)).toBeLessThanOrEqual(AGENT.toolSetTokens[1]);
      if (!bySet.has(tag)) bySet.set(tag, new Set());
      bySet.get(tag)!.add(r.session!.id);
    }
    expect(bySet.size).toBeLessThanOrEqual(AGENT.toolSets);
    expect(bySet.size).toBeGreaterThanOrEqual(3);
    for (const ids of bySet.values()) expect(ids.size).toBeGreaterThanOrEqual(10);
    expect([0, 1, 2, 3].map(toolSetTokens).sort()).toEqual([...new Set(sessions.map((r) => tokens(r.parts[0]![1])))].sort());
  });

  it('agent: sessions of 3–28 turns whose prompt grows by a call and a tool output of 150–3 500 tokens', () => {
    const bySession = new Map<number, RequestSpec[]>();
    for (const r of agentRun.requests) if (r.session) (bySession.get(r.session.id) ?? bySession.set(r.session.id, []).get(r.session.id)!).push(r);
    const turnCounts = new Set<number>();
    const outputs: number[] = [];
    for (const turns of bySession.values()) {
      turns.sort((a, b) => a.session!.turn - b.session!.turn);
      const total = turns[0]!.session!.turns;
      turnCounts.add(total);
      expect(total).toBeGreaterThanOrEqual(AGENT.turns[0]);
      expect(total).toBeLessThanOrEqual(AGENT.turns[1]);
      for (let i = 1; i < turns.length; i++) {
        const [prev, next] = [turns[i - 1]!, turns[i]!];
        expect(next.session!.turn).toBe(prev.session!.turn + 1); // the window keeps consecutive turns
        expect(next.at).toBeGreaterThan(prev.at);
        expect(next.parts.slice(0, prev.parts.length)).toEqual(prev.parts); // history is the previous prompt, unchanged
        expect(next.parts.length).toBe(prev.parts.length + 2);
        const [call, tool] = next.parts.slice(-2);
        expect(tokens(call![1])).toBe(prev.outputTokens); // the model's answer (the tool call) is in the history
        outputs.push(tokens(tool![1]));
      }
    }
    expect(Math.min(...outputs)).toBeGreaterThanOrEqual(AGENT.toolOutputTokens[0]);
    expect(Math.max(...outputs)).toBeLessThanOrEqual(AGENT.toolOutputTokens[1]);
    // Log-uniform: the median near the geometric mean of the bounds (≈ 725 tokens), not the arithmetic one (1 825).
    const sorted = outputs.sort((a, b) => a - b);
    expect(sorted[sorted.length >> 1]).toBeGreaterThan(600);
    expect(sorted[sorted.length >> 1]).toBeLessThan(870);
    expect(turnCounts.size).toBeGreaterThan(15);
  });

  it('agent: a third of the requests one-shot prompts with nothing to reuse; session starts clustered', () => {
    for (const seed of [1, 2, 3]) {
      const w = agent.generate({ seed, rate: 20, durationMs: 120_000 });
      const measured = measuredOf(w);
      expect(share(measured, (r) => r.session === undefined)).toBeGreaterThan(0.29);
      expect(share(measured, (r) => r.session === undefined)).toBeLessThan(0.37);
      // Clustered but steady enough that the load level is what arrives: within 8% of the rate asked for.
      expect((measured.length * 1000) / (w.durationMs - w.warmupMs) / 20).toBeGreaterThan(0.92);
      expect((measured.length * 1000) / (w.durationMs - w.warmupMs) / 20).toBeLessThan(1.08);
    }
    const tags = new Map<string, number>();
    for (const r of agentRun.requests) tags.set(r.parts[0]![0], (tags.get(r.parts[0]![0]) ?? 0) + 1);
    for (const r of agentRun.requests.filter((x) => x.session === undefined)) {
      expect(r.parts.length).toBe(1);
      expect(tags.get(r.parts[0]![0])).toBe(1); // its text shares not even its first block with another request
    }
    const starts = (w: Workload) => w.requests.filter((r) => r.session?.turn === 0).map((r) => r.at);
    expect(dispersion(starts(agentRun), 0, agentRun.durationMs)).toBeGreaterThan(1.8);
    const steady = agent.generate({ seed: 1, rate: 20, durationMs: 120_000, forCapacity: true });
    expect(dispersion(starts(steady), 0, steady.durationMs)).toBeLessThan(1.6);
  });

  it('names nothing: opaque text tags and one neutral pool in every new workload', () => {
    const params = { seed: 1, rate: 10, durationMs: 20_000, capacity: 10 };
    const names = new Set<string>();
    for (const def of [agent, documentQa, priorityBurst, noisyNeighbour]) {
      const w = def.generate(params);
      expect(w.requests.length).toBeGreaterThan(50);
      for (const r of w.requests) {
        names.add(r.pool);
        expect(r.model).toBe('llama-3.1-8b');
        for (const [tag] of r.parts) expect(tag).toMatch(/^[0-9a-f]{16}$/);
        expect(materialize(r.parts.slice(0, 1))).toMatch(/^\[[0-9a-f]{16}\] /);
      }
      expect(def.generate(params).requests).toEqual(w.requests);
    }
    expect([...names]).toEqual(['pool']);
  });

  it('document-qa: whole documents of 4–24k tokens behind one system prompt, the top one ~23% of the questions', () => {
    const w = documentQa.generate({ seed: 1, rate: 30, durationMs: 120_000 });
    const system = new Set(w.requests.map((r) => r.parts[0]![0]));
    expect(system.size).toBe(1);
    const docs = new Map<string, number>();
    for (const r of w.requests) {
      expect(r.parts.length).toBe(3);
      const [tag, chars] = r.parts[1]!;
      expect(tokens(chars)).toBeGreaterThanOrEqual(DOCUMENT_QA.documentTokens[0]);
      expect(tokens(chars)).toBeLessThanOrEqual(DOCUMENT_QA.documentTokens[1]);
      docs.set(tag, (docs.get(tag) ?? 0) + 1);
    }
    expect(docs.size).toBeLessThanOrEqual(DOCUMENT_QA.documents);
    expect(docs.size).toBeGreaterThan(60);
    const top = Math.max(...docs.values()) / w.requests.length;
    expect(top).toBeGreaterThan(0.2);
    expect(top).toBeLessThan(0.26);
  });

  it('priority-burst: Critical/Standard/Sheddable 20/50/30, and a burst of Standard only', () => {
    const w = priorityBurst.generate({ seed: 1, rate: 20, durationMs: 120_000, capacity: 20 });
    const [from, to] = [120_000 * PRIORITY_BURST.burstFrom, 120_000 * PRIORITY_BURST.burstTo];
    const steady = w.requests.filter((r) => r.at < from || r.at >= to);
    expect(share(steady, (r) => r.criticality === 'Critical')).toBeCloseTo(0.2, 1);
    expect(share(steady, (r) => r.criticality === 'Standard')).toBeCloseTo(0.5, 1);
    expect(share(steady, (r) => r.criticality === 'Sheddable')).toBeCloseTo(0.3, 1);
    const inBurst = w.requests.filter((r) => r.at >= from && r.at < to);
    const rate = (rs: RequestSpec[], ms: number) => (rs.length * 1000) / ms;
    // 20/s steady + 20/s of Standard (1.0 × capacity): about 40/s, ~70% Standard.
    expect(rate(inBurst, to - from)).toBeGreaterThan(34);
    expect(rate(inBurst, to - from)).toBeLessThan(46);
    expect(share(inBurst, (r) => r.criticality === 'Standard')).toBeGreaterThan(0.68);
    for (const r of w.requests) expect(r.groups).toEqual([r.criticality]);
    expect(priorityBurst.generate({ seed: 1, rate: 20, durationMs: 120_000, capacity: 20, forCapacity: true }).requests.length).toBeLessThan(0.9 * w.requests.length);
  });

  it('noisy-neighbour: four quiet tenants 40/30/20/10 of half the requests, one that floods on/off, and its unloaded variant', () => {
    const w = noisyNeighbour.generate({ seed: 1, rate: 20, durationMs: 120_000 });
    const flood = w.requests.filter((r) => r.tenant === NOISY.flooding);
    const quiet = w.requests.filter((r) => r.tenant !== NOISY.flooding);
    expect(flood.length / w.requests.length).toBeGreaterThan(0.44);
    expect(flood.length / w.requests.length).toBeLessThan(0.56);
    for (const [tenant, part] of NOISY.quiet) expect(share(quiet, (r) => r.tenant === tenant)).toBeCloseTo(part, 1);
    for (const r of quiet) expect(r.groups).toEqual([r.tenant, 'quiet']);
    // The flood comes in 5 s windows, one per 20 s: split at the long pauses, each run of arrivals spans < 5 s.
    const windows: number[][] = [[]];
    for (const r of flood) {
      const current = windows[windows.length - 1]!;
      if (current.length > 0 && r.at - current[current.length - 1]! > NOISY.periodMs - NOISY.onMs - 1000) windows.push([r.at]);
      else current.push(r.at);
    }
    for (const times of windows) expect(times[times.length - 1]! - times[0]!).toBeLessThan(NOISY.onMs);
    expect(windows.length).toBeGreaterThanOrEqual(5);
    expect(dispersion(flood.map((r) => r.at), 0, w.durationMs)).toBeGreaterThan(5);
    const alone = noisyNeighbour.unloaded!(w);
    expect(alone.requests).toEqual(quiet);
    expect(requestHeaders(quiet[0]!)[FAIRNESS_HEADER]).toBe(quiet[0]!.tenant);
    expect(requestHeaders(quiet[0]!)['x-gateway-inference-objective']).toBe('pool-standard');
  });

  it('reports per group and against the unloaded run (a short noisy-neighbour slice, two strategies)', () => {
    const names = ['round-robin', 'infergate-default'];
    const r = runWorkloadSim(noisyNeighbour, { seed: 1, durationMs: 20_000, levels: [0.8], strategies: STRATEGIES.filter((s) => names.includes(s.name)), kernel }, { perPod: { pool: 4 }, poolRates: { pool: 32 }, total: 32 });
    const level = r.levels[0]!;
    expect(level.unloaded?.map((m) => m.strategy)).toEqual(names);
    for (const [i, m] of level.runs.entries()) {
      const g = m.groups!;
      expect(g.quiet!.measured).toBe(['tenant-a', 'tenant-b', 'tenant-c', 'tenant-d'].reduce((s, t) => s + g[t]!.measured, 0));
      expect(g.quiet!.measured + g[NOISY.flooding]!.measured).toBe(m.measured);
      const alone = level.unloaded![i]!.groups!;
      expect(alone.quiet!.measured).toBe(g.quiet!.measured);
      expect(alone[NOISY.flooding]!.measured).toBe(0);
      expect(g.quiet!.ttft.p99).toBeGreaterThan(alone.quiet!.ttft.p99); // the flood costs the quiet tenants something
    }
    expect(groupTable(r)).toMatch(/\| 80% \(25\.6\/s.*\| round-robin \|/);
    expect(groupTable(r)).toContain('infergate-flow-control`: not in this run');
    expect(unloadedTable(r)).toMatch(/quiet p99 loaded \/ alone/);
  }, 30_000);

  it("issue 17's targets table: flow isolation's column when the run has it, and it isolates", () => {
    const names = ['infergate-default', 'infergate-flow-control', 'infergate-flow-isolation'];
    const strategies = [...STRATEGIES, ...EXTRA_STRATEGIES].filter((s) => names.includes(s.name));
    // The pool's measured capacity (docs/routing-benchmark.md: 174.1 req/s for 8 pods), so that the flood contends.
    const r = runWorkloadSim(noisyNeighbour, { seed: 1, durationMs: 30_000, levels: [0.8], strategies, kernel }, { perPod: { pool: 21.76 }, poolRates: { pool: 174.1 }, total: 174.1 });
    const table = flowControlTargets([r])!;
    expect(table).toContain('| workload | load | infergate-default | infergate-flow-control | infergate-flow-isolation | target (issue 17) |');
    const ratios = [...table.matchAll(/= ([\d.]+)×/g)].map((m) => Number(m[1]));
    expect(ratios).toHaveLength(3);
    // The quiet tenants: flow control helps, isolation more.
    expect(ratios[1]).toBeLessThan(ratios[0]!);
    expect(ratios[2]).toBeLessThan(ratios[1]!);
    expect(flowControlTargets([{ ...r, levels: r.levels.map((l) => ({ ...l, runs: l.runs.slice(0, 2) })) }])).not.toContain('infergate-flow-isolation');
  }, 30_000);
});

describe('routing benchmark: end-to-end harness', () => {
  it('splits a pool’s pods over processes as evenly as possible, every pod once (--pod-processes)', async () => {
    const { splitPods } = await import('../bench/routing/e2e.ts');
    expect(splitPods(8, 1)).toEqual([{ offset: 0, count: 8 }]);
    expect(splitPods(8, 2)).toEqual([{ offset: 0, count: 4 }, { offset: 4, count: 4 }]);
    expect(splitPods(7, 3).map((p) => p.count)).toEqual([2, 2, 3]);
    expect(splitPods(2, 5)).toEqual([{ offset: 0, count: 1 }, { offset: 1, count: 1 }]);
    for (const [n, k] of [[8, 3], [13, 4], [1, 1]] as const) {
      const parts = splitPods(n, k);
      expect(parts.reduce((s, p) => s + p.count, 0)).toBe(n);
      parts.forEach((p, i) => expect(p.offset).toBe(i === 0 ? 0 : parts[i - 1]!.offset + parts[i - 1]!.count));
    }
  });
});

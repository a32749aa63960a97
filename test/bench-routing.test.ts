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
import { STRATEGIES, strategyByName } from '../bench/routing/strategies/index.ts';
import { textOfTokens } from '../bench/routing/text.ts';
import { materialize } from '../bench/routing/workloads/common.ts';
import { multiLora } from '../bench/routing/workloads/multi-lora.ts';
import { sharedPrefix } from '../bench/routing/workloads/shared-prefix.ts';
import { loadTrace, resolveTracePath, reuseCeiling, traceWorkload } from '../bench/routing/workloads/trace.ts';
import { runTraceSim } from '../bench/routing/trace-run.ts';

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
    const r = runWorkloadSim('multi-lora', multiLora.describe, multiLora.generate, {
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

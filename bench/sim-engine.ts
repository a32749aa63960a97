/**
 * The engine core on a simulated clock, no HTTP: how fast can a benchmark
 * harness push requests through many pods? Poisson arrivals spread round-robin
 * over the pods at ~70% of their capacity, ShareGPT-like sizes.
 *
 *   npx tsx bench/sim-engine.ts [--pods 200] [--requests 200000]
 */
import { resolveEngineConfig, SimEngine, type Sequence } from '../src/sim/index.ts';
import { readFlags } from './lib/flags.ts';
import { seeded } from './lib/rand.ts';

const flags = readFlags();
const PODS = flags.number('pods', flags.quick ? 20 : 200);
const REQUESTS = flags.number('requests', flags.quick ? 10_000 : 200_000);
const PER_POD_RPS = flags.number('rps-per-pod', 25); // calibration: a pod saturates near 37 req/s on ShareGPT

const config = resolveEngineConfig();
let done = 0;
let ttftSum = 0;
const onFinish = (s: Sequence) => {
  done++;
  ttftSum += s.firstTokenMs - s.arrivalMs;
};
const engines = Array.from({ length: PODS }, () => new SimEngine(config, { onFinish }));
const random = seeded(7);
const gapMs = 1000 / (PODS * PER_POD_RPS);

const t0 = performance.now();
let now = 0;
for (let i = 0; i < REQUESTS; i++) {
  now += -Math.log(1 - random()) * gapMs;
  const e = engines[i % PODS]!;
  e.advanceTo(now);
  e.submit({ promptTokens: 50 + Math.floor(random() * 300), outputTokens: 20 + Math.floor(random() * 320) }, now);
}
for (const e of engines) e.advanceTo(Infinity);
const wall = performance.now() - t0;
const steps = engines.reduce((n, e) => n + e.stats.steps, 0);
const tokens = engines.reduce((n, e) => n + e.stats.generationTokens, 0);
console.log(
  JSON.stringify(
    {
      pods: PODS,
      requests: REQUESTS,
      completed: done,
      simulated_s: +(engines.reduce((m, e) => Math.max(m, e.now), 0) / 1000).toFixed(1),
      wall_s: +(wall / 1000).toFixed(2),
      steps,
      generated_tokens: tokens,
      steps_per_wall_s: Math.round(steps / (wall / 1000)),
      requests_per_wall_s: Math.round(REQUESTS / (wall / 1000)),
      mean_ttft_ms: +(ttftSum / done).toFixed(1),
    },
    null,
    2,
  ),
);

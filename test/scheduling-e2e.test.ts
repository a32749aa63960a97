/**
 * The endpoint picker end to end: the real gateway (embedded agent scraping
 * every 50 ms) in front of simulated vLLM pods, over real sockets. Which pod
 * served a request is read from the decision explanation and checked against
 * the pods' own engine counters, so a wrong explanation fails too.
 *
 * Robust on a busy machine: every "the agent has seen it" step waits on the
 * gateway's snapshot instead of sleeping, and the simulators run 5–20× faster
 * than real time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Endpoint } from '../src/endpoints/types.ts';
import { startGateway, type RunningGateway } from '../src/runtime/node/gateway.ts';
import type { CandidateExplanation, Explanation } from '../src/scheduling/index.ts';
import { type Simulator } from '../src/sim/index.ts';
import { startSimulator } from '../src/runtime/node/index.ts';
import { demoPools } from '../src/cli/commands/demo.ts';
import { chat, entriesFor, postJson, SEED_MANIFESTS, startDemoCluster, waitForMetrics, writeEndpointsFile } from './harness.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

interface Cluster {
  gateway: RunningGateway;
  sim: Simulator;
  /** Endpoint ids (`127.0.0.1:port`), in pod order. */
  ids: string[];
}

/** The gemma3 pool of the seed manifests on `pods` simulated pods with this engine configuration. */
async function startPool(pods: number, engineConfig: Record<string, number>, timeScale: number): Promise<Cluster> {
  const sim = await startSimulator({ pods, port: 0, model: demoPools.gemma3!.model, loras: demoPools.gemma3!.loras, engineConfig, timeScale, name: 'gemma3' });
  const gateway = await startGateway({ port: 0, manifests: SEED_MANIFESTS, endpoints: writeEndpointsFile(entriesFor(sim, { pool: 'gemma3' })) }).catch(async (err: unknown) => {
    await sim.close();
    throw err;
  });
  cleanups.push(() => sim.close(), () => gateway.close());
  await waitForMetrics(gateway, ['gemma3']);
  return { gateway, sim, ids: sim.pods.map((p) => `127.0.0.1:${p.port}`) };
}

async function demoCluster(timeScale: number): Promise<Cluster> {
  const c = await startDemoCluster({ timeScale });
  cleanups.push(() => c.close());
  return { gateway: c.gateway, sim: c.pools.gemma3!, ids: c.endpointIds.gemma3! };
}

/** The gateway's current view of the gemma3 pool (what the scheduler decides on). */
function seen(gateway: RunningGateway): Endpoint[] {
  const pool = gateway.store.current!.pools.get('gemma3')!;
  return gateway.endpoints.snapshot(pool).endpoints;
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Wait until the agent has scraped every pod of the pool again. */
async function nextScrape(gateway: RunningGateway): Promise<void> {
  const t = Date.now();
  await waitFor('a fresh scrape', () => seen(gateway).every((e) => (e.scrapedAt ?? 0) > t));
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  decision: Explanation;
}

/** One chat completion through the gateway with the explain header; the whole body is read. */
async function ask(gateway: RunningGateway, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const r = await postJson(`${gateway.url}/v1/chat/completions`, body, { 'x-infergate-explain': '1', ...headers });
  const text = await r.text();
  const header = r.headers.get('x-infergate-decision');
  expect(header, `no decision header (status ${r.status}: ${text})`).toBeTruthy();
  return { status: r.status, headers: r.headers, text, decision: JSON.parse(header!) as Explanation };
}

/** Requests each pod has finished (its engine's own count). */
const finished = (c: Cluster) => c.sim.pods.map((p) => p.engine.stats.finished);

/**
 * A request through the gateway that must succeed: returns the picked
 * endpoint after checking that exactly that pod finished one more request
 * and that the explanation's scores add up to its pick.
 */
async function served(c: Cluster, body: unknown, headers: Record<string, string> = {}): Promise<{ picked: string; decision: Explanation }> {
  const before = finished(c);
  const a = await ask(c.gateway, body, headers);
  expect(a.status, a.text).toBe(200);
  const picked = a.decision.picked!;
  const after = finished(c);
  expect(after.map((n, i) => n - before[i]!)).toEqual(c.ids.map((id) => (id === picked ? 1 : 0)));
  expectConsistent(a.decision);
  return { picked, decision: a.decision };
}

/** The explanation's totals are the weighted sums of its scores, and the picked endpoint has the highest. */
function expectConsistent(d: Explanation): void {
  const candidates = d.candidates!;
  expect(candidates[0]!.id).toBe(d.picked);
  for (const c of candidates) {
    const sum = Object.entries(c.scores).reduce((s, [name, score]) => s + d.weights![name]! * score, 0);
    // Scores and totals are rounded to 4 decimals: each weighted score can be off by weight × 0.00005.
    const slack = 0.00005 * (1 + Object.values(d.weights!).reduce((s, w) => s + w, 0));
    expect(Math.abs(c.total - sum)).toBeLessThanOrEqual(slack);
  }
  for (const c of candidates.slice(1)) expect(candidates[0]!.total).toBeGreaterThanOrEqual(c.total);
}

const scoreOf = (d: Explanation, id: string, scorer: string) => d.candidates!.find((c: CandidateExplanation) => c.id === id)?.scores[scorer];

/** A request straight to one pod (bypassing the gateway) that keeps running until aborted. */
function occupy(url: string, model: string, outputTokens: number, signal: AbortSignal): void {
  postJson(`${url}/v1/chat/completions`, chat(model, 'keep busy', { max_tokens: outputTokens }), { 'x-sim-output-tokens': String(outputTokens) }, signal)
    .then((r) => r.text())
    .catch(() => {}); // aborted at the end of the test: nothing to report
}

function aborter(): AbortSignal {
  const controller = new AbortController();
  cleanups.push(async () => controller.abort());
  return controller.signal;
}

/** Prometheus counter value (summed over label sets) from a pod's /metrics. */
async function counter(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

/** A streamed request through the gateway left running until the test ends; returns its decision once headers arrive. */
async function startLong(gateway: RunningGateway, model: string, outputTokens: number, headers: Record<string, string> = {}): Promise<Explanation> {
  const body = chat(model, 'tell me a long story', { max_tokens: outputTokens, stream: true });
  const r = await postJson(`${gateway.url}/v1/chat/completions`, body, { 'x-infergate-explain': '1', 'x-sim-output-tokens': String(outputTokens), ...headers }, aborter());
  expect(r.status).toBe(200);
  r.body!.pipeTo(new WritableStream()).catch(() => {}); // drained until aborted at the end of the test
  return JSON.parse(r.headers.get('x-infergate-decision')!) as Explanation;
}

describe('scheduling end to end', () => {
  it('sends adapter requests to the pod that has the adapter loaded', async () => {
    const c = await demoCluster(0.2);
    // vLLM lists an adapter as running only while a request uses it: keep one spanish-bot request running.
    const holder = (await startLong(c.gateway, 'spanish-bot', 8000)).picked!;
    await waitFor('the agent to see spanish-bot-v1 running', () => seen(c.gateway).some((e) => e.id === holder && e.metrics?.activeAdapters.includes('spanish-bot-v1')));
    for (let i = 0; i < 5; i++) {
      // A scrape from before the last answer still shows that request queued, and one waiting request costs more
      // (queue ×2, min-max) than affinity gains (×2 × (1 − 0.8)): decide on metrics that show the pool as it is.
      await nextScrape(c.gateway);
      const { picked, decision } = await served(c, chat('spanish-bot', `hola ${i}`));
      expect(picked, JSON.stringify(decision)).toBe(holder);
      expect(scoreOf(decision, holder, 'lora-affinity-scorer')).toBe(1);
      for (const id of c.ids.filter((id) => id !== holder)) expect(scoreOf(decision, id, 'lora-affinity-scorer')).toBe(0.8); // room to load it
    }
    // Only the holder ever loaded the adapter.
    for (const e of seen(c.gateway)) if (e.id !== holder) expect(e.metrics!.activeAdapters).not.toContain('spanish-bot-v1');
  });

  it('sends a repeated long prompt back to the pod that served it, where the prefix cache hits', async () => {
    const c = await demoCluster(0.05);
    const prompt = Array.from({ length: 1200 }, (_, i) => `w${(i * 7919) % 10007}`).join(' '); // ~8 KiB, ~130 blocks
    const first = (await served(c, chat('chatbot', prompt))).picked;
    const hitsBefore = await Promise.all(c.sim.pods.map((p) => counter(p.url, 'vllm:prefix_cache_hits_total')));
    for (let i = 0; i < 4; i++) {
      const { picked, decision } = await served(c, chat('chatbot', prompt));
      expect(picked).toBe(first);
      expect(scoreOf(decision, first, 'prefix-cache-scorer')).toBe(1);
    }
    const hitsAfter = await Promise.all(c.sim.pods.map((p) => counter(p.url, 'vllm:prefix_cache_hits_total')));
    const gained = hitsAfter.map((h, i) => h - hitsBefore[i]!);
    const at = c.ids.indexOf(first);
    // Each repeat hits every full 64-character block of "user" + prompt, but the one holding the last token.
    const blocks = Math.floor(('user' + prompt).length / 64);
    expect(gained[at]).toBeGreaterThanOrEqual(4 * (blocks - 1) * 16);
    expect(gained.filter((_, i) => i !== at)).toEqual([0, 0]);
  });

  it('avoids a pod with a long queue', async () => {
    // 5× real time: the pod's 8 000-token requests outlast the test even on a loaded machine, so none finishes in it.
    const c = await startPool(3, { maxNumSeqs: 2 }, 0.2);
    const busy = 1;
    const signal = aborter();
    for (let i = 0; i < 10; i++) occupy(c.sim.pods[busy]!.url, 'google/gemma-3-4b-it', 8000, signal);
    await waitFor('the agent to see the queue', () => (seen(c.gateway).find((e) => e.id === c.ids[busy])?.metrics?.waiting ?? 0) >= 6);
    const picks = new Set<string>();
    // 12 requests: with ties broken at random, all landing on one of the two free pods has odds 1 in 2 048 (with 6,
    // 1 in 32 — a CI run of 2026-12-06 18:22 drew it).
    for (let i = 0; i < 12; i++) {
      const { picked, decision } = await served(c, chat('chatbot', `question ${i}`));
      picks.add(picked);
      expect(scoreOf(decision, c.ids[busy]!, 'queue-scorer')).toBe(0);
    }
    expect(picks.has(c.ids[busy]!)).toBe(false);
    expect(picks.size).toBe(2); // the other two share the work (in-flight and kv-cache ties break at random)
  });

  it('sheds Sheddable requests with 429 and Retry-After at a saturated pool, and keeps serving Critical ones', async () => {
    const c = await startPool(2, { maxNumSeqs: 2 }, 0.05);
    const batch = { 'x-gateway-inference-objective': 'batch' };
    // Before saturation a batch request is served.
    expect((await ask(c.gateway, chat('chatbot', 'early batch'), batch)).status).toBe(200);

    const signal = aborter();
    for (const pod of c.sim.pods) for (let i = 0; i < 14; i++) occupy(pod.url, 'google/gemma-3-4b-it', 4000, signal);
    await waitFor('the agent to see every queue ≥ 10', () => seen(c.gateway).every((e) => (e.metrics?.waiting ?? 0) >= 10));

    const shed = await ask(c.gateway, chat('chatbot', 'late batch'), batch);
    expect(shed.status).toBe(429);
    expect(shed.headers.get('retry-after')).toBe('1');
    expect(JSON.parse(shed.text).error.code).toBe('pool_saturated');
    expect(shed.decision.shed).toMatch(/saturated/);
    expect(shed.decision.saturation).toBeGreaterThanOrEqual(1);

    // Critical (spanish-bot) is never shed. vLLM's own priority (lower first) puts it ahead of the pod's queue.
    const critical = await Promise.all([0, 1, 2].map((i) => ask(c.gateway, chat('spanish-bot', `urgent ${i}`, { priority: -10 }))));
    for (const a of critical) {
      expect(a.status, a.text).toBe(200);
      expect(a.decision.saturation).toBeGreaterThanOrEqual(1);
      expect(a.decision.shed).toBeUndefined();
    }
    // Still saturated: batch is still refused.
    expect((await ask(c.gateway, chat('chatbot', 'later batch'), batch)).status).toBe(429);
  });

  it('explains a decision: profile, weights, per-plugin scores that add up to the pick, metrics age', async () => {
    const c = await demoCluster(0.05);
    const { picked, decision } = await served(c, chat('chatbot', 'hello'));
    expect(decision.profile).toBe('default');
    expect(decision.kernel).toBe('wasm');
    expect(decision.picker).toBe('max-score-picker');
    expect(Object.keys(decision.weights!)).toEqual(['queue-scorer', 'kv-cache-utilization-scorer', 'prefix-cache-scorer', 'in-flight-scorer', 'lora-affinity-scorer', 'prefill-work-scorer']);
    expect(decision.considered).toBe(decision.candidates!.length);
    for (const cand of decision.candidates!) {
      expect(cand.ageMs).toBeGreaterThanOrEqual(0);
      expect(cand.ageMs).toBeLessThan(2000);
    }
    expect(picked).toBe(decision.candidates![0]!.id);
    // Without the header there is no explanation.
    const r = await postJson(`${c.gateway.url}/v1/chat/completions`, chat('chatbot'));
    await r.text();
    expect(r.status).toBe(200);
    expect(r.headers.get('x-infergate-decision')).toBeNull();
  });
});

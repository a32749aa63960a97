import { describe, expect, it } from 'vitest';
import { resolveEngineConfig, type EngineConfigOverrides } from './config.ts';
import { SimEngine } from './engine.ts';
import { KvCache } from './kv-cache.ts';
import type { Sequence } from './sequence.ts';
import { blockHashes } from './text.ts';

function engine(overrides: EngineConfigOverrides = {}) {
  const finished: Sequence[] = [];
  const e = new SimEngine(resolveEngineConfig(overrides), { onFinish: (s) => finished.push(s) });
  return { e, finished };
}

const ttftMs = (s: Sequence) => s.firstTokenMs - s.arrivalMs;

describe('step time model', () => {
  it('gives the calibrated idle TTFT for 1k, 4k and 8k prompts', () => {
    for (const [tokens, want] of [[1000, 28], [4000, 100], [8000, 220]] as const) {
      const { e } = engine();
      const s = e.submit({ promptTokens: tokens, outputTokens: 1 }, 0);
      e.advanceTo(10_000);
      expect(ttftMs(s)).toBeGreaterThan(want * 0.9);
      expect(ttftMs(s)).toBeLessThan(want * 1.1);
    }
  });

  it('chunks a prefill larger than the token budget across steps', () => {
    const { e } = engine({ maxBatchedTokens: 1024 });
    const s = e.submit({ promptTokens: 4000, outputTokens: 2 }, 0);
    e.advanceTo(10_000);
    expect(e.stats.steps).toBe(4 + 1); // 4 prefill chunks, then one decode
    expect(s.output).toBe(2);
  });

  it('decodes one token per step per sequence at base + per-sequence cost', () => {
    const { e } = engine();
    const seqs = Array.from({ length: 10 }, () => e.submit({ promptTokens: 16, outputTokens: 50 }, 0));
    e.advanceTo(60_000);
    for (const s of seqs) expect(s.output).toBe(50);
    const itl = e.stats.itl.sum / e.stats.itl.count;
    expect(itl * 1000).toBeGreaterThan(6.3);
    expect(itl * 1000).toBeLessThan(6.5);
  });
});

describe('queueing', () => {
  it('keeps waiting at zero below capacity and grows it above', () => {
    const run = (perSecond: number) => {
      const { e } = engine({ maxNumSeqs: 16 });
      let maxWaiting = 0;
      for (let t = 0; t < 5000; t += 1000 / perSecond) {
        e.advanceTo(t);
        e.submit({ promptTokens: 500, outputTokens: 200 }, t);
        maxWaiting = Math.max(maxWaiting, e.numWaiting);
      }
      e.advanceTo(600_000);
      return { maxWaiting, ttft: e.stats.ttft.sum / e.stats.ttft.count };
    };
    const low = run(5);
    const high = run(200);
    expect(low.maxWaiting).toBeLessThanOrEqual(1);
    expect(low.ttft).toBeLessThan(0.05);
    expect(high.maxWaiting).toBeGreaterThan(100);
    expect(high.ttft).toBeGreaterThan(1);
  });

  it('is deterministic', () => {
    const once = () => {
      const { e } = engine({ numGpuBlocks: 500 });
      for (let i = 0; i < 200; i++) e.submit({ promptTokens: 100 + ((i * 37) % 400), outputTokens: 20 + ((i * 11) % 90) }, i * 3);
      e.advanceTo(1e7);
      return JSON.stringify(e.stats);
    };
    expect(once()).toBe(once());
  });
});

describe('prefix caching', () => {
  const text = 'x'.repeat(64 * 100) + 'tail';
  const hashes = blockHashes(text, 16);

  it('hits the blocks of a finished request and skips their prefill', () => {
    const { e } = engine();
    const a = e.submit({ promptTokens: 1601, blockHashes: hashes, outputTokens: 1 }, 0);
    e.advanceTo(1000);
    const b = e.submit({ promptTokens: 1601, blockHashes: hashes, outputTokens: 1 }, 1000);
    e.advanceTo(2000);
    expect(a.cachedTokens).toBe(0);
    expect(b.cachedTokens).toBe(1600);
    expect(ttftMs(b)).toBeLessThan(ttftMs(a) / 3);
    expect(e.stats.prefixQueries).toBe(3202);
    expect(e.stats.prefixHits).toBe(1600);
  });

  it('misses for another adapter seed, and after eviction', () => {
    const { e } = engine({ numGpuBlocks: 120 });
    e.submit({ promptTokens: 1601, blockHashes: hashes, outputTokens: 1 }, 0);
    e.advanceTo(1000);
    const other = e.submit({ promptTokens: 1601, blockHashes: blockHashes(text, 16, 'lora-a'), outputTokens: 1 }, 1000);
    e.advanceTo(2000); // its 101 blocks evict most of the first prompt's
    const again = e.submit({ promptTokens: 1601, blockHashes: hashes, outputTokens: 1 }, 2000);
    e.advanceTo(3000);
    expect(other.cachedTokens).toBe(0);
    expect(again.cachedTokens).toBeLessThan(400);
  });
});

describe('KV pressure', () => {
  it('preempts the newest sequence when decode runs out of blocks, and every request completes', () => {
    const { e, finished } = engine({ numGpuBlocks: 400 });
    const seqs = Array.from({ length: 40 }, (_, i) => e.submit({ promptTokens: 100, outputTokens: 300 }, i));
    let maxUsage = 0;
    for (let t = 0; t < 600_000 && finished.length < seqs.length; t += 5) {
      e.advanceTo(t);
      maxUsage = Math.max(maxUsage, e.kv.usage);
    }
    expect(finished.length).toBe(40);
    for (const s of seqs) expect(s.output).toBe(300);
    expect(e.stats.preemptions).toBeGreaterThan(0);
    expect(maxUsage).toBeGreaterThan(0.95);
    expect(e.kv.free).toBe(400);
  });
});

describe('LoRA', () => {
  it('charges the cold load once, then keeps the adapter resident', () => {
    const { e } = engine();
    const a = e.submit({ promptTokens: 100, outputTokens: 1, adapter: 'a' }, 0);
    e.advanceTo(5000);
    const b = e.submit({ promptTokens: 100, outputTokens: 1, adapter: 'a' }, 5000);
    e.advanceTo(10_000);
    expect(ttftMs(a)).toBeGreaterThan(250);
    expect(ttftMs(b)).toBeLessThan(20);
  });

  it('makes a request for another adapter wait while max_loras adapters run', () => {
    const { e } = engine({ maxLoras: 1 });
    const a = e.submit({ promptTokens: 100, outputTokens: 200, adapter: 'a' }, 0);
    const b = e.submit({ promptTokens: 100, outputTokens: 1, adapter: 'b' }, 1);
    const base = e.submit({ promptTokens: 100, outputTokens: 1 }, 2);
    e.advanceTo(600); // past a's cold load and the first decode steps
    expect(b.state).toBe('waiting');
    expect(base.output).toBe(1); // the base model is not held up by the skipped adapter
    e.advanceTo(60_000);
    expect(b.firstTokenMs).toBeGreaterThanOrEqual(a.finishedMs);
  });
});

describe('KvCache', () => {
  it('evicts the least recently freed block first and keeps hits findable until then', () => {
    const kv = new KvCache(4, 16);
    const a: number[] = [];
    kv.allocate(2, a);
    kv.register(a[0]!, 11);
    kv.register(a[1]!, 12);
    kv.release(a);
    expect(kv.free).toBe(4);
    const got: number[] = [];
    expect(kv.acquireCached([11, 12], 2, got)).toBe(2);
    kv.release(got);
    const fresh: number[] = [];
    expect(kv.allocate(3, fresh)).toBe(true);
    const again: number[] = [];
    // two never-used blocks went first, then the tail block of the freed chain (hash 12)
    expect(kv.acquireCached([11, 12], 2, again)).toBe(1);
    expect(kv.allocate(1, [])).toBe(false);
  });
});

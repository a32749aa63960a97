import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parsePrometheusText } from '../src/agent/prom-text.ts';
import { detectEngine, EngineMismatchError, readEngineMetrics } from '../src/agent/engines.ts';
import { MetricsAgent } from '../src/agent/agent.ts';

const recorded = (name: string) => readFileSync(new URL(`../src/agent/testdata/${name}.txt`, import.meta.url), 'utf8');

describe('Prometheus text parser', () => {
  it('reads names, labels with escapes, special values and skips comments', () => {
    const text = [
      '# HELP a_metric A metric.',
      '# TYPE a_metric gauge',
      'a_metric{x="1",y="with \\"quotes\\", commas and \\\\ slash",z="line\\nbreak"} 3.5 1700000000000',
      'b_metric 42',
      'c_metric{le="+Inf"} +Inf',
      'd_metric NaN',
      'e_metric{} -Inf',
      '',
      'broken{x="1" 3',
      'f_metric\t1e-3\r',
    ].join('\n');
    const samples = parsePrometheusText(text);
    expect(samples.map((s) => s.name)).toEqual(['a_metric', 'b_metric', 'c_metric', 'd_metric', 'e_metric', 'f_metric']);
    expect(samples[0]).toEqual({ name: 'a_metric', labels: { x: '1', y: 'with "quotes", commas and \\ slash', z: 'line\nbreak' }, value: 3.5 });
    expect(samples[2]!.value).toBe(Infinity);
    expect(samples[3]!.value).toBeNaN();
    expect(samples[4]!.value).toBe(-Infinity);
    expect(samples[5]!.value).toBe(0.001);
  });

  it('parses only the wanted names', () => {
    const samples = parsePrometheusText(recorded('vllm'), new Set(['vllm:num_requests_waiting']));
    expect(samples).toHaveLength(1);
    expect(samples[0]!.value).toBe(3);
  });
});

describe('engine mappings on recorded metric text', () => {
  it('vLLM: queue, running, KV, newest LoRA series, cache config', () => {
    expect(readEngineMetrics('vllm', recorded('vllm'))).toEqual({
      waiting: 3,
      running: 7,
      kvUsage: 0.4215,
      activeAdapters: ['english-bot', 'spanish-bot'],
      waitingAdapters: ['french-bot'],
      maxAdapters: 4,
      blockSize: 16,
      totalBlocks: 27145,
    });
  });

  it('vLLM V0: the older KV metric name', () => {
    const m = readEngineMetrics('vllm', recorded('vllm-v0'));
    expect(m).toMatchObject({ waiting: 0, running: 2, kvUsage: 0.125, activeAdapters: [], maxAdapters: 0, blockSize: 0 });
  });

  it('SGLang: queue, running, token usage, page size and blocks from the token pool', () => {
    expect(readEngineMetrics('sglang', recorded('sglang'))).toEqual({
      waiting: 5,
      running: 12,
      kvUsage: 0.28,
      activeAdapters: [],
      waitingAdapters: [],
      maxAdapters: 0,
      blockSize: 16,
      totalBlocks: 32768,
    });
  });

  it('TensorRT-LLM (trtllm-serve)', () => {
    expect(readEngineMetrics('trtllm', recorded('trtllm'))).toMatchObject({ waiting: 4, running: 9, kvUsage: 0.61 });
  });

  it('Triton TensorRT-LLM backend: labelled request and KV block families', () => {
    expect(readEngineMetrics('triton-trtllm', recorded('triton-trtllm'))).toMatchObject({
      waiting: 2,
      running: 6,
      kvUsage: 0.3,
      blockSize: 64,
      totalBlocks: 4000,
    });
  });

  it('a page of another engine is refused, naming the engine it comes from (read as zeros it would look idle)', () => {
    expect(() => readEngineMetrics('vllm', recorded('sglang'))).toThrow(/sglang's, not vllm's: set engine: sglang/);
    expect(() => readEngineMetrics('sglang', recorded('vllm'))).toThrow(EngineMismatchError);
    expect(() => readEngineMetrics('vllm', '<html>not metrics</html>')).toThrow(/none of vllm's metrics/);
    expect(detectEngine(recorded('trtllm'))).toBe('trtllm');
    expect(detectEngine(recorded('triton-trtllm'))).toBe('triton-trtllm');
  });

  it('a pod configured as the wrong engine is not ready, its last error saying why; with engineMismatch: ready it only reports', async () => {
    const sglangPage = recorded('sglang');
    for (const [mode, ready] of [['not-ready', false], ['ready', true]] as const) {
      const agent = new MetricsAgent({ get: async () => sglangPage, scrapeIntervalMs: 10, engineMismatch: mode });
      agent.setEntries([{ address: '10.0.0.1', port: 8000, labels: { pool: 'a' }, engine: 'vllm' }]);
      agent.start();
      try {
        const pool = { selector: { pool: 'a' }, targetPorts: [] };
        const deadline = Date.now() + 2000;
        while (!agent.view(pool).endpoints[0]?.lastError && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
        const e = agent.view(pool).endpoints[0]!;
        expect(e.lastError).toContain('set engine: sglang');
        expect(e.ready).toBe(ready);
      } finally {
        agent.stop();
      }
    }
  });

  it('the simulator’s vLLM metrics map too', async () => {
    const { startSimulator } = await import('../src/runtime/node/index.ts');
    const sim = await startSimulator({ port: 0 });
    try {
      const text = await (await fetch(`${sim.pods[0]!.url}/metrics`)).text();
      const m = readEngineMetrics('vllm', text);
      expect(m.blockSize).toBeGreaterThan(0);
      expect(m.totalBlocks).toBeGreaterThan(0);
      expect(m.waiting).toBe(0);
    } finally {
      await sim.close();
    }
  });
});

describe('the protocol a pod is scraped with', () => {
  it("is its pools' appProtocol: h2c for a pool that says kubernetes.io/h2c, HTTP/1.1 otherwise, and it follows the pools held", async () => {
    const page = recorded('vllm');
    const asked = new Map<string, string>();
    const agent = new MetricsAgent({ get: async (url, _ms, protocol) => (asked.set(url, protocol ?? 'http'), page), scrapeIntervalMs: 5 });
    agent.setEntries([
      { address: '10.0.0.1', labels: { app: 'grpc' }, engine: 'vllm' },
      { address: '10.0.0.2', labels: { app: 'plain' }, engine: 'vllm' },
    ]);
    agent.start();
    const scraped = async (url: string, protocol: string) => {
      asked.delete(url);
      for (let i = 0; i < 400 && asked.get(url) !== protocol; i++) await new Promise((r) => setTimeout(r, 5));
      expect(asked.get(url), url).toBe(protocol);
    };
    try {
      const release = agent.acquire({ selector: { app: 'grpc' }, targetPorts: [9000], appProtocol: 'h2c' });
      agent.acquire({ selector: { app: 'plain' }, targetPorts: [8000] });
      await scraped('http://10.0.0.1:9000/metrics', 'h2c');
      await scraped('http://10.0.0.2:8000/metrics', 'http');
      // The same pods and port held as HTTP/1.1 once the h2c pool is gone.
      agent.acquire({ selector: { app: 'grpc' }, targetPorts: [9000] });
      await scraped('http://10.0.0.1:9000/metrics', 'h2c');
      release();
      await scraped('http://10.0.0.1:9000/metrics', 'http');
    } finally {
      agent.stop();
    }
  });
});

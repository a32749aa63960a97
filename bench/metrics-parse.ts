/**
 * µs to read one vLLM /metrics page of ~200 series into EndpointMetrics.
 * Run: npx tsx bench/metrics-parse.ts
 */
import { readEngineMetrics } from '../src/agent/engines.ts';
import { parsePrometheusText } from '../src/agent/prom-text.ts';
import { readFlags } from './lib/flags.ts';
import { seriesCount, vllmPage } from './metrics-page.ts';

const pages = Array.from({ length: 16 }, (_, i) => vllmPage(i));
const page = pages[0]!;

// --quick (npm run bench -- --quick): a smoke run with a tenth of the iterations.
const scale = readFlags().quick ? 0.1 : 1;

function measure(name: string, fn: (text: string) => unknown, iterations: number): void {
  iterations = Math.max(100, Math.round(iterations * scale));
  for (let i = 0; i < 2000; i++) fn(pages[i & 15]!); // warm up
  const start = performance.now();
  for (let i = 0; i < iterations; i++) fn(pages[i & 15]!);
  const us = ((performance.now() - start) * 1000) / iterations;
  console.log(`${name.padEnd(44)} ${us.toFixed(2).padStart(8)} µs/page  (${Math.round(1e6 / us)} pages/s)`);
}

console.log(`page: ${seriesCount(page)} series, ${page.length} bytes`);
measure('readEngineMetrics(vllm) — wanted names only', (t) => readEngineMetrics('vllm', t), 50_000);
measure('parsePrometheusText — every sample', (t) => parsePrometheusText(t), 20_000);
measure('baseline: split lines + regex per line', (t) => t.split('\n').map((l) => /^([^{\s]+)(\{[^}]*\})?\s+(\S+)/.exec(l)), 20_000);

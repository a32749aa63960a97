/** The precise-vs-approximate tables: prefix hits and TTFT per strategy, one row per run. */
import type { RunMetrics } from '../types.ts';

export interface ComparisonRow {
  workload: string;
  level: string;
  run: RunMetrics;
}

export function comparisonTable(rows: readonly ComparisonRow[]): string {
  const lines = [
    '| workload | load | strategy | prefix hits | TTFT p50 ms | TTFT p90 ms | TTFT p99 ms | E2E p99 ms | errors + unfinished |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const { workload, level, run: m } of rows) {
    lines.push(`| ${workload} | ${level} | ${m.strategy} | ${(m.prefixHitRate * 100).toFixed(1)}% | ${m.ttft.p50.toFixed(0)} | ${m.ttft.p90.toFixed(0)} | ${m.ttft.p99.toFixed(0)} | ${m.e2eP99.toFixed(0)} | ${m.errors + m.unfinished} |`);
  }
  return lines.join('\n');
}

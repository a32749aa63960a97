/**
 * deploy/grafana/infergate-dashboard.json queries only metrics infergate
 * emits: every metric name in its PromQL is a family of the gateway's,
 * scheduler's, pools', agent's or process's pages (as rendered by the code).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MetricsAgent } from '../src/agent/agent.ts';
import { AgentMetrics } from '../src/agent/metrics.ts';
import { GatewayMetrics } from '../src/gateway/metrics.ts';
import { poolMetrics } from '../src/gateway/pool-metrics.ts';
import { observeScheduler } from '../src/gateway/scheduler-metrics.ts';
import { processMetrics } from '../src/runtime/node/process-metrics.ts';

const BOARD = new URL('../deploy/grafana/infergate-dashboard.json', import.meta.url);

interface Panel {
  type: string;
  title: string;
  targets?: { expr: string }[];
}

describe('the Grafana dashboard', () => {
  it('queries only metrics infergate emits', async () => {
    const gateway = new GatewayMetrics();
    observeScheduler(gateway.registry, { observe: () => {}, prefixIndexSize: () => 0 });
    const pages = [
      gateway.render(),
      poolMetrics({ pools: () => [], endpoints: { snapshot: () => ({ pool: '', endpoints: [], at: 0, hasMetrics: true }) } }, { commit: '', buildRef: '' }).render(),
      new AgentMetrics(new MetricsAgent({ get: async () => '' })).render(),
      await processMetrics()(),
    ];
    const families = new Set(pages.join('\n').split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]!));
    const board = JSON.parse(readFileSync(BOARD, 'utf8')) as { panels: Panel[]; uid: string };
    const queries = board.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ title: p.title, expr: t.expr })));
    expect(queries.length).toBeGreaterThan(20);
    const functions = new Set(['histogram_quantile', 'label_values']);
    for (const { title, expr } of queries) {
      // Label matchers, ranges and `by (…)` lists hold label names, not metrics.
      const bare = expr.replace(/\{[^}]*\}/g, '').replace(/\[[^\]]*\]/g, '').replace(/\bby\s*\([^)]*\)/g, '');
      const names = [...bare.matchAll(/\b([a-z][a-z0-9]*_[a-z0-9_:]*)\b/g)].map((m) => m[1]!).filter((n) => !functions.has(n));
      expect(names.length, `${title}: ${expr}`).toBeGreaterThan(0);
      for (const name of names) {
        const family = name.replace(/_(bucket|sum|count)$/, '');
        expect(families.has(name) || families.has(family), `${title}: ${name} is not emitted`).toBe(true);
      }
    }
  });
});

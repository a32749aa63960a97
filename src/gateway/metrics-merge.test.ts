import { describe, expect, it } from 'vitest';
import { parsePrometheusText } from '../agent/prom-text.ts';
import { GatewayMetrics } from './metrics.ts';
import { mergePrometheusText, withoutGauges } from './metrics-merge.ts';
import { playRequest } from './observer-testing.ts';

/** The checks a Prometheus scraper makes of a text page that matter here. */
function expectValidPage(text: string): void {
  const lines = text.split('\n');
  expect(lines.at(-1)).toBe('');
  const seenHelp = new Set<string>();
  const seenType = new Set<string>();
  const closed = new Set<string>();
  let family: string | undefined;
  let samples = 0;
  for (const line of lines.slice(0, -1)) {
    const meta = /^# (HELP|TYPE) (\S+) (.+)$/.exec(line);
    if (meta) {
      const [, kind, name] = meta;
      const seen = kind === 'HELP' ? seenHelp : seenType;
      expect(seen.has(name!), `${kind} ${name} twice`).toBe(false);
      seen.add(name!);
      if (family && family !== name) closed.add(family);
      expect(closed.has(name!), `family ${name} is not one group`).toBe(false);
      family = name;
      continue;
    }
    expect(line.startsWith('#')).toBe(false);
    expect(family && line.startsWith(family), `${line} outside its family`).toBe(true);
    samples++;
  }
  // Every sample line parses (the reader skips malformed ones).
  expect(parsePrometheusText(text)).toHaveLength(samples);
}

describe('mergePrometheusText', () => {
  it('sums the same series across workers, keeps one HELP/TYPE per family, and is valid text', () => {
    const a = new GatewayMetrics();
    const b = new GatewayMetrics();
    for (let i = 0; i < 3; i++) playRequest([a], { pool: 'gemma3', model: 'chatbot' });
    playRequest([a], { pool: 'gemma3', model: 'chatbot', seconds: 0.02, ttftSeconds: 0.004, stream: true });
    playRequest([a], { pool: 'gemma3', model: 'chatbot', decision: 'shed' });
    for (let i = 0; i < 4; i++) playRequest([b], { pool: 'gemma3', model: 'chatbot', seconds: i === 0 ? 0.3 : 0.01 });
    playRequest([b], { pool: 'deepseek', model: 'model "with" quotes, and {braces} and spaces', seconds: 1.5, refused: 1 });

    const merged = mergePrometheusText([a.render(), b.render()]);
    expectValidPage(merged);
    const samples = parsePrometheusText(merged);
    const value = (name: string, labels: Record<string, string>) => samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    expect(value('infergate_requests_total', { pool: 'gemma3', model: 'chatbot', code: '200' })).toBe(8);
    expect(value('infergate_requests_total', { code: '429' })).toBe(1);
    expect(value('infergate_requests_total', { model: 'model "with" quotes, and {braces} and spaces' })).toBe(1);
    expect(value('inference_objective_request_total', { model_name: 'chatbot', target_model_name: 'chatbot', priority: '0' })).toBe(9);
    expect(value('inference_objective_request_error_total', { model_name: 'chatbot', error_code: 'InferencePoolResourceExhausted' })).toBe(1);
    expect(value('inference_objective_running_requests', { model_name: 'chatbot' })).toBe(0);
    expect(value('infergate_request_duration_seconds_count', { pool: 'gemma3' })).toBe(8);
    expect(value('infergate_request_duration_seconds_sum', { pool: 'gemma3' })).toBeCloseTo(0.01 * 6 + 0.02 + 0.3);
    expect(value('infergate_request_duration_seconds_bucket', { pool: 'gemma3', le: '+Inf' })).toBe(8);
    expect(value('infergate_request_duration_seconds_count', { pool: 'deepseek' })).toBe(1);
    expect(value('infergate_time_to_first_token_seconds_count', { pool: 'gemma3' })).toBe(1);
    expect(value('infergate_shed_total', { pool: 'gemma3' })).toBe(1);
    expect(value('infergate_upstream_refused_total', { pool: 'deepseek' })).toBe(1);
    expect(value('infergate_retries_total', { pool: 'deepseek', reason: 'connect-failure' })).toBe(1);
    // Histogram buckets stay cumulative after summing.
    const buckets = samples.filter((s) => s.name === 'infergate_request_duration_seconds_bucket' && s.labels.pool === 'gemma3').map((s) => s.value);
    expect(buckets).toEqual([...buckets].sort((x, y) => x - y));
    // Same families, same order as one worker's page.
    const families = (text: string) => text.split('\n').filter((l) => l.startsWith('# TYPE'));
    expect(families(merged)).toEqual(families(a.render()));
  });

  it('one page merges to itself; no pages to an empty page', () => {
    const a = new GatewayMetrics();
    playRequest([a], { pool: 'p', model: 'm', seconds: 0.1 });
    expect(mergePrometheusText([a.render()])).toBe(a.render());
    expect(mergePrometheusText([])).toBe('');
  });

  it("keeps an exited worker's counters and histograms, not its gauges", () => {
    const page = '# HELP c C.\n# TYPE c counter\nc{a="1"} 4\n# HELP g G.\n# TYPE g gauge\ng{m="x"} 3\n# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 2\n';
    expect(withoutGauges(page)).toBe('# HELP c C.\n# TYPE c counter\nc{a="1"} 4\n# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 2\n');
  });

  it('skips malformed sample lines and foreign comments', () => {
    const merged = mergePrometheusText(['# HELP x X.\n# TYPE x counter\n# a comment\nx 1\nx{a="1" 2\ngarbage\n', '# TYPE x counter\nx 2\n']);
    expect(merged).toBe('# HELP x X.\n# TYPE x counter\nx 3\n');
  });
});

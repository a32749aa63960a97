import { describe, expect, it } from 'vitest';
import { createScheduler, parseSchedulerConfig } from '../src/scheduling/index.ts';

const valid = `
apiVersion: inference.networking.x-k8s.io/v1alpha1
kind: EndpointPickerConfig
plugins:
  - type: low-queue-filter
    parameters: { threshold: 10 }
  - type: queue-scorer
  - type: kv-cache
    name: kv
  - type: prefix-cache-scorer
    parameters: { maxPrefixBlocksToMatch: 128 }
  - type: weighted-random-picker
schedulingProfiles:
  - name: spread
    plugins:
      - pluginRef: low-queue-filter
      - pluginRef: queue-scorer
        weight: 2
      - pluginRef: kv
        weight: 1.5
      - pluginRef: prefix-cache-scorer
      - pluginRef: weighted-random-picker
saturationDetector:
  queueDepthThreshold: 8
  metricsStalenessThreshold: 300ms
metricsStaleAfter: 5s
`;

function problems(yaml: string) {
  const r = parseSchedulerConfig(yaml);
  expect(r.ok).toBe(false);
  return r.ok ? [] : r.problems;
}

describe('scheduling config', () => {
  it('accepts a GIE-style document and resolves types, names, weights and durations', () => {
    const r = parseSchedulerConfig(valid);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.plugins.map((p) => [p.name, p.type])).toContainEqual(['kv', 'kv-cache-utilization-scorer']);
    expect(r.config.profiles[0]!.plugins).toContainEqual({ ref: 'kv', weight: 1.5 });
    expect(r.config.profiles[0]!.plugins).toContainEqual({ ref: 'prefix-cache-scorer', weight: 1 });
    expect(r.config.saturation).toMatchObject({ queueDepthThreshold: 8, kvCacheUtilThreshold: 0.8, metricsStalenessThreshold: 300, threshold: 1 });
    expect(r.config.metricsStaleAfterMs).toBe(5000);
    expect(createScheduler({ config: r.config }).profileNames()).toEqual(expect.arrayContaining(['default', 'gie-default', 'spread']));
  });

  it('rejects an unknown plugin type, naming the field', () => {
    expect(problems('plugins: [{ type: queue-scorer }, { type: telepathy-scorer }]')).toContainEqual({
      path: 'plugins[1].type',
      message: expect.stringContaining('unknown plugin type "telepathy-scorer"'),
    });
  });

  it('rejects a weight that is not a number, naming the field', () => {
    const yaml = 'plugins: [{ type: queue-scorer }]\nschedulingProfiles: [{ name: p, plugins: [{ pluginRef: queue-scorer, weight: heavy }] }]';
    expect(problems(yaml)).toEqual([{ path: 'schedulingProfiles[0].plugins[0].weight', message: 'must be a number' }]);
  });

  it('rejects a reference to a missing plugin, naming the field', () => {
    const yaml = 'plugins: [{ type: queue-scorer }]\nschedulingProfiles: [{ name: p, plugins: [{ pluginRef: queue-scorer }, { pluginRef: kv }] }]';
    expect(problems(yaml)).toEqual([{ path: 'schedulingProfiles[0].plugins[1].pluginRef', message: 'no plugin named "kv" in plugins' }]);
  });

  it.each([
    ['bad parameter', 'plugins: [{ type: low-queue-filter, parameters: { threshold: -1 } }]', 'plugins[0].parameters.threshold'],
    ['unknown parameter', 'plugins: [{ type: queue-scorer, parameters: { depth: 3 } }]', 'plugins[0].parameters.depth'],
    ['block size other than 64', 'plugins: [{ type: prefix-cache-scorer, parameters: { hashBlockSize: 16 } }]', 'plugins[0].parameters.hashBlockSize'],
    ['duplicate plugin name', 'plugins: [{ type: queue-scorer }, { type: queue }]', 'plugins[1].name'],
    ['weight on a picker', 'plugins: [{ type: random-picker }]\nschedulingProfiles: [{ name: p, plugins: [{ pluginRef: random-picker, weight: 2 }] }]', 'schedulingProfiles[0].plugins[0].weight'],
    ['two pickers', 'plugins: [{ type: random-picker }, { type: max-score-picker }]\nschedulingProfiles: [{ name: p, plugins: [{ pluginRef: random-picker }, { pluginRef: max-score-picker }] }]', 'schedulingProfiles[0].plugins[1].pluginRef'],
    ['bad duration', 'saturationDetector: { metricsStalenessThreshold: soon }', 'saturationDetector.metricsStalenessThreshold'],
    ['unknown top-level field', 'profiles: []', 'profiles'],
    ['not YAML', 'plugins: [', ''],
  ])('rejects %s', (_, yaml, path) => {
    expect(problems(yaml).map((p) => p.path)).toContain(path);
  });
});

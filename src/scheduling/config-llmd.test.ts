import { describe, expect, it } from 'vitest';
import { parseSchedulerConfig } from './config.ts';
import { flowControlFromConfig } from './flow-control-mapping.ts';
import { createScheduler } from './index.ts';
import { restrictToSubset } from './subset.ts';
import { createRoleFilter } from './plugins/filter/role.ts';
import { createHeaderBasedTestingFilter } from './plugins/filter/header-based-testing.ts';
import { candidates, context, endpoint, pool, request } from './testing.ts';
import type { FilterPlugin } from './plugins/types.ts';

const ok = (yaml: string) => {
  const r = parseSchedulerConfig(yaml);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r;
};
const problems = (yaml: string) => {
  const r = parseSchedulerConfig(yaml);
  expect(r.ok).toBe(false);
  return r.ok ? [] : r.problems;
};

describe('EndpointPickerConfig as llm-d writes it', () => {
  it('reads featureGates and the flowControl block, and hands them on validated', () => {
    const r = ok(`apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
featureGates: [flowControl, dataLayer=false]
plugins: [{ type: queue-scorer }, { type: utilization-detector, parameters: { queueDepthThreshold: 8, kvCacheUtilThreshold: 0.9 } }]
flowControl:
  maxBytes: 1Gi
  maxRequests: 1k
  defaultRequestTTL: 1m30s
  priorityBands: [{ priority: 10, maxRequests: 50 }, { priority: -1 }]
  saturationDetector: { pluginRef: utilization-detector }
`);
    expect(r.config.featureGates).toEqual({ flowControl: true, dataLayer: false });
    expect(r.config.flowControl).toMatchObject({ maxBytes: 2 ** 30, maxRequests: 1000, defaultRequestTTL: 90_000, priorityBands: [{ priority: 10, maxRequests: 50 }, { priority: -1 }] });
    expect(r.config.flowControl!.plugins).toEqual({ 'utilization-detector': { type: 'utilization-detector', parameters: { queueDepthThreshold: 8, kvCacheUtilThreshold: 0.9 } } });
    // utilization-detector is infergate's saturation settings, under llm-d's name.
    expect(r.config.saturation).toMatchObject({ queueDepthThreshold: 8, kvCacheUtilThreshold: 0.9 });
    // No profile written: llm-d's "default" with every filter, scorer and picker.
    expect(r.config.profiles).toEqual([{ name: 'default', plugins: [{ ref: 'queue-scorer', weight: 1 }] }]);
  });

  it("reads infergate's additions: flow isolation, and the pending-prefill room of the utilization detector", () => {
    const r = ok(`featureGates: [flowControl]
plugins: [{ type: utilization-detector, parameters: { queueDepthThreshold: 1, pendingPrefillTokensThreshold: 4096 } }]
flowControl: { isolation: { headroom: 0.5, window: 3s } }
`);
    expect(r.config.saturation).toMatchObject({ queueDepthThreshold: 1, pendingPrefillTokensThreshold: 4096 });
    expect(flowControlFromConfig(r.config)!.isolation).toEqual({ headroom: 0.5, windowMs: 3000 });
    // Defaults when the block is empty; absent, no isolation.
    expect(flowControlFromConfig(ok('featureGates: [flowControl]\nflowControl: { isolation: {} }').config)!.isolation).toEqual({ headroom: 2, windowMs: 1000 });
    expect(flowControlFromConfig(ok('featureGates: [flowControl]\nflowControl: {}').config)!.isolation).toBeUndefined();
    expect(ok('saturationDetector: { pendingPrefillTokensThreshold: 2048 }').config.saturation.pendingPrefillTokensThreshold).toBe(2048);
  });

  it.each([
    ['isolation headroom out of range', 'flowControl: { isolation: { headroom: 9 } }', 'flowControl.isolation.headroom'],
    ['an unknown isolation field', 'flowControl: { isolation: { reserve: 2 } }', 'flowControl.isolation.reserve'],
    ['a negative pending-prefill threshold', 'plugins: [{ type: utilization-detector, parameters: { pendingPrefillTokensThreshold: -1 } }]', 'plugins[0].parameters.pendingPrefillTokensThreshold'],
    ['an unknown gate', 'featureGates: [warpDrive]', 'featureGates[0]'],
    ['a flowControl ref to nothing', 'flowControl: { usageLimitPolicyPluginRef: nope }', 'flowControl.usageLimitPolicyPluginRef'],
    ['an unknown flowControl field', 'flowControl: { queueDepth: 3 }', 'flowControl.queueDepth'],
    ['two bands of one priority', 'flowControl: { priorityBands: [{ priority: 1 }, { priority: 1 }] }', 'flowControl.priorityBands'],
    ['a bad quantity', 'flowControl: { maxBytes: lots }', 'flowControl.maxBytes'],
    ['eviction', 'flowControl: { enableEviction: true }', 'flowControl.enableEviction'],
    ['an ordering policy as the fairness policy', 'plugins: [{ type: edf-ordering-policy }]\nflowControl: { defaultPriorityBand: { fairnessPolicyRef: edf-ordering-policy } }', 'flowControl.defaultPriorityBand.fairnessPolicyRef'],
    ['an unknown apiVersion', 'apiVersion: llm-d.ai/v9', 'apiVersion'],
    ['the deprecated parser block', 'parser: {}', 'parser'],
    ['endpoint discovery', 'dataLayer: { discovery: { pluginRef: file-discovery } }', 'dataLayer.discovery'],
    ['single-profile-handler with two profiles', 'plugins: [{ type: single-profile-handler }, { type: queue-scorer }]\nschedulingProfiles: [{ name: a, plugins: [{ pluginRef: queue-scorer }] }, { name: b, plugins: [{ pluginRef: queue-scorer }] }]', 'plugins'],
    ['a handler in a profile', 'plugins: [{ type: single-profile-handler }]\nschedulingProfiles: [{ name: a, plugins: [{ pluginRef: single-profile-handler }] }]', 'schedulingProfiles[0].plugins[0].pluginRef'],
    ['maxNumOfEndpoints above 1', 'plugins: [{ type: max-score-picker, parameters: { maxNumOfEndpoints: 3 } }]', 'plugins[0].parameters.maxNumOfEndpoints'],
    ['two prefix modes at once', 'plugins: [{ type: approx-prefix-cache-producer, parameters: { blockSizeTokens: 64, hashBlockSize: 64 } }]', 'plugins[0].parameters'],
    ['token blocks with prefill-work', 'plugins: [{ type: prefix-cache-scorer, parameters: { blockSizeTokens: 64 } }, { type: prefill-work-scorer }]', 'plugins (prefix-cache-scorer)'],
  ])('refuses %s, naming %s', (_, yaml, path) => {
    expect(problems(yaml).map((p) => p.path)).toContain(path);
  });

  it('refuses each llm-d plugin infergate does not have, saying what it does and what is nearest', () => {
    const [p] = problems('plugins: [{ type: load-aware-scorer, parameters: { threshold: 10 } }]');
    expect(p).toEqual({ path: 'plugins[0].type', message: expect.stringMatching(/^"load-aware-scorer" is an llm-d scorer infergate does not have: .+ Nearest in infergate: queue-scorer\.$/) });
  });

  it('warns about the deprecated apiVersion and a flowControl block without its gate', () => {
    const r = ok('apiVersion: inference.networking.x-k8s.io/v1alpha1\nflowControl: { maxRequests: 10 }');
    expect(r.warnings.map((w) => w.path)).toEqual(['apiVersion', 'flowControl']);
  });

  it("reads llm-d's deprecated top-level saturationDetector.pluginRef as flowControl.saturationDetector, with a warning; the new field wins", () => {
    const top = `apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
featureGates: [flowControl]
plugins:
- { type: utilization-detector, parameters: { queueDepthThreshold: 10 } }
- { type: queue-scorer }
- { type: max-score-picker }
schedulingProfiles: [{ name: default, plugins: [{ pluginRef: queue-scorer }, { pluginRef: max-score-picker }] }]
saturationDetector:
  pluginRef: utilization-detector
`;
    const r = ok(top);
    expect(r.warnings).toContainEqual({ path: 'saturationDetector.pluginRef', message: expect.stringContaining('flowControl.saturationDetector') });
    expect(r.config.saturation).toMatchObject({ queueDepthThreshold: 10 });
    // With a flowControl block, it is handed on there as if written there.
    const inBlock = ok(`${top}flowControl: { maxRequests: 10 }\n`);
    expect(inBlock.config.flowControl!.saturationDetector).toEqual({ pluginRef: 'utilization-detector' });
    // Both set: flowControl.saturationDetector is used, the old field only warned about.
    const both = ok(`featureGates: [flowControl]
plugins: [{ type: concurrency-detector, name: c }]
saturationDetector: { pluginRef: gone }
flowControl: { saturationDetector: { pluginRef: c } }
`);
    expect(both.config.flowControl!.saturationDetector).toEqual({ pluginRef: 'c' });
    expect(both.warnings).toContainEqual({ path: 'saturationDetector.pluginRef', message: expect.stringContaining('ignored') });
    // infergate's own thresholds in that block keep working; a ref to no detector names its field.
    expect(ok('saturationDetector: { threshold: 0.5, queueDepthThreshold: 3 }').config.saturation).toMatchObject({ threshold: 0.5, queueDepthThreshold: 3 });
    expect(problems('saturationDetector: { pluginRef: nowhere }')).toEqual([{ path: 'saturationDetector.pluginRef', message: 'no plugin named "nowhere" in plugins' }]);
  });

  it("takes llm-d's names: running-requests-size-scorer, prefixMatchInfoProducerName, the verifier", () => {
    const r = ok(`plugins:
- { type: approx-prefix-cache-producer, name: mine, parameters: { blockSizeTokens: 128, lruCapacityPerServer: 100, autoTune: false } }
- { type: prefix-cache-scorer, parameters: { prefixMatchInfoProducerName: mine } }
- { type: running-requests-size-scorer }
- { type: destination-endpoint-served-verifier }
schedulingProfiles: [{ name: p, plugins: [{ pluginRef: prefix-cache-scorer }, { pluginRef: running-requests-size-scorer }] }]`);
    expect(r.config.servedEndpointHeaders).toEqual(['x-conformance-test-served-endpoint']);
    expect(createScheduler({ config: r.config }).profileNames()).toContain('p');
    expect(problems('plugins: [{ type: prefix-cache-scorer, parameters: { prefixMatchInfoProducerName: ghost } }]')[0]!.message).toContain('ghost');
  });
});

describe('flowControl as the flow-control layer reads it', () => {
  it('maps the block with the gate on, with llm-d\'s band defaults; nothing without the gate', () => {
    const yaml = (gates: string) => `featureGates: [${gates}]
plugins: [{ type: round-robin-fairness-policy }, { type: edf-ordering-policy }]
flowControl:
  maxRequests: 100
  defaultRequestTTL: 30s
  defaultPriorityBand: { fairnessPolicyRef: round-robin-fairness-policy }
  priorityBands: [{ priority: 5, maxBytes: 1Mi, orderingPolicyRef: edf-ordering-policy }]
`;
    const on = flowControlFromConfig(ok(yaml('flowControl')).config)!;
    expect(on).toMatchObject({ maxRequests: 100, defaultRequestTTLMs: 30_000, defaultBand: { fairness: 'round-robin-fairness-policy', ordering: 'fcfs-ordering-policy', maxRequests: 5000, maxBytes: 1_000_000_000 } });
    expect(on.defaultNegativeBand).toEqual(on.defaultBand);
    expect(on.bands!.get(5)).toEqual({ maxBytes: 2 ** 20, maxRequests: 5000, fairness: 'round-robin-fairness-policy', ordering: 'edf-ordering-policy' });
    expect(flowControlFromConfig(ok(yaml('dataLayer')).config)).toBeUndefined();
  });
});

describe("llm-d's role filters and the conformance filter", () => {
  const kept = (f: FilterPlugin, labels: Array<Record<string, string>>, hints = {}) => {
    const eps = labels.map((l, i) => endpoint(i, {}, { labels: l }));
    return f.filter(candidates(eps), context(request({ hints }))).map((c) => eps.indexOf(c.endpoint));
  };
  const role = (r?: string): Record<string, string> => (r ? { 'llm-d.ai/role': r } : {});

  it('decode-filter keeps decode roles and unlabelled pods; prefill- and encode-filter need their role', () => {
    const pods = [role('decode'), role('prefill'), role(), role('both'), role('encode')];
    expect(kept(createRoleFilter('decode-filter'), pods)).toEqual([0, 2, 3]);
    expect(kept(createRoleFilter('prefill-filter'), pods)).toEqual([1, 3]);
    expect(kept(createRoleFilter('encode-filter'), pods)).toEqual([4]);
  });

  it('a role filter that leaves nothing makes the request unavailable instead of sending it to the wrong role', () => {
    const r = ok('plugins: [{ type: prefill-filter }, { type: queue-scorer }]\nschedulingProfiles: [{ name: default, plugins: [{ pluginRef: prefill-filter }, { pluginRef: queue-scorer }] }]');
    const decision = createScheduler({ config: r.config, now: () => 1_800_000_000_000 }).decide(pool(), { pool: 'pool', endpoints: [endpoint(1, {}, { labels: role('decode') })], at: 0, hasMetrics: true }, request());
    expect(decision).toMatchObject({ kind: 'unavailable', reason: expect.stringContaining('prefill-filter') });
  });

  it('header-based-testing-filter keeps the named IPs (every port) or IP:ports, and all without the header', () => {
    const f = createHeaderBasedTestingFilter();
    expect(kept(f, [{}, {}, {}], { selection: ['10.0.0.1', '10.0.0.2:8000'] })).toEqual([1, 2]);
    expect(kept(f, [{}, {}], { selection: ['10.0.0.1:9999'] })).toEqual([]);
    expect(kept(f, [{}, {}])).toEqual([0, 1]);
  });

  it('the subset keeps only the named ip:port endpoints', () => {
    const snap = { pool: 'p', endpoints: [endpoint(1), endpoint(2)], at: 0, hasMetrics: true };
    expect(restrictToSubset(snap, ['10.0.0.2:8000', '10.9.9.9:1']).endpoints.map((e) => e.id)).toEqual(['10.0.0.2:8000']);
    expect(restrictToSubset(snap, ['10.0.0.2:9000']).endpoints).toEqual([]);
  });
});

describe('the flowControl gate of a --scheduling-config', () => {
  it('turns the gateway\'s flow control on with the block, and leaves it off without the gate', async () => {
    const { assembleGateway } = await import('../gateway/assemble.ts');
    const { fetchUpstream } = await import('../http/fetch-upstream.ts');
    const texts: Record<string, string> = {
      '/on.yaml': 'featureGates: [flowControl]\nflowControl: { maxRequests: 7 }\n',
      '/off.yaml': 'flowControl: { maxRequests: 7 }\n',
    };
    const files = { readFileText: async (p: string) => texts[p], watchFile: () => () => {}, writeFileAtomic: async () => {} };
    const source = { snapshot: (p: { name: string }) => ({ pool: p.name, endpoints: [], at: 0, hasMetrics: false }), notReadyReason: () => undefined, close: () => {} };
    const { loadKernelModule } = await import('../runtime/node/kernel.ts');
    const parts = { files, loadKernel: loadKernelModule, upstream: fetchUpstream };
    for (const [file, on] of [['/on.yaml', true], ['/off.yaml', false]] as const) {
      const g = await assembleGateway({ schedulingConfig: file, endpointSource: source, log: () => {} }, parts);
      expect(g.scheduling.flow !== undefined, file).toBe(on);
      await g.close();
    }
  });
});

describe("llm-d's concurrency-detector", () => {
  it('sets the requests in flight per endpoint at which flow control holds requests (headroom included); token modes are refused by name', async () => {
    const { parseSchedulerConfig } = await import('./config.ts');
    const ok = parseSchedulerConfig(`
apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
featureGates: [flowControl]
plugins: [{ type: queue-scorer }, { type: concurrency-detector, parameters: { maxConcurrency: 8, headroom: 0.25 } }]
flowControl:
  saturationDetector: { pluginRef: concurrency-detector }
`);
    expect(ok.ok && ok.config.saturation.maxConcurrency).toBe(10);
    const tokens = parseSchedulerConfig(`
plugins: [{ type: queue-scorer }, { type: concurrency-detector, parameters: { concurrencyMode: tokens } }]
`);
    expect(!tokens.ok && tokens.problems).toContainEqual(expect.objectContaining({ path: 'plugins[1].parameters.concurrencyMode', message: expect.stringContaining('token concurrency') }));
  });
});

describe('a config file that is not text', () => {
  it('is quoted as a short, printable excerpt, in a YAML error and in a value the schema refuses', () => {
    // Bytes a YAML parser reads as one long plain scalar: control characters, invalid UTF-8, no newline.
    const bytes = Buffer.alloc(12_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = [0x4c, 0xff, 0x04, 0x78, 0xfe, 0x1b, 0x7f, 0x5a][i % 8]!;
    const binary = bytes.toString('utf8');
    for (const text of [binary, `plugins: [{ type: "${binary.replace(/["\\]/g, '')}" }]`, `plugins: [{ type: queue-scorer, parameters: { threshold: "${binary.replace(/["\\]/g, '')}" } }]`]) {
      const parsed = parseSchedulerConfig(text);
      expect(parsed.ok).toBe(false);
      const said = !parsed.ok ? parsed.problems.map((p) => `${p.path}: ${p.message}`).join('\n') : '';
      // The unknown type's message lists the known ones (~700 characters): bounded, not the 12 KB given.
      expect(said.length).toBeLessThan(2000);
      expect(said).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f\ufffd]/);
    }
  });
});

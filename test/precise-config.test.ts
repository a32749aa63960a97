/**
 * llm-d's precise-prefix-cache plugin types and parameters in an
 * EndpointPickerConfig: accepted with llm-d's names (the scorer alone makes
 * its own producer; a declared producer is shared), wrong values refused by
 * field path.
 */
import { describe, expect, it } from 'vitest';
import { createScheduler, parseSchedulerConfig } from '../src/scheduling/index.ts';
import { buildProfiles } from '../src/scheduling/profile.ts';

describe('precise-prefix-cache configuration', () => {
  it('accepts llm-d\'s parameters and builds the profile', () => {
    const r = parseSchedulerConfig(`
plugins:
- type: precise-prefix-cache-producer
  parameters:
    tokenProcessorConfig: { blockSizeTokens: 64, hashSeed: "42", hashAlgo: sha256_cbor }
    indexerConfig:
      kvBlockIndexConfig: { enableMetrics: true }
      kvCacheBackendConfigs: [{ name: gpu, weight: 1.0 }, { name: cpu, weight: 0.5 }]
    kvEventsConfig: { topicFilter: "kv@" }
    speculativeIndexing: true
    speculativeTTL: 2s
- type: precise-prefix-cache-scorer
- type: max-score-picker
schedulingProfiles:
- name: precise
  plugins: [{ pluginRef: precise-prefix-cache-scorer, weight: 2 }, { pluginRef: max-score-picker }]
`);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.plugins[0]!.parameters).toMatchObject({ tokenProcessorConfig: { blockSize: 64, hashSeed: '42', hashAlgo: 'sha256_cbor' }, speculativeTTL: 2000 });
    expect(createScheduler({ config: r.config }).profileNames()).toContain('precise');
  });

  it('refuses wrong values, naming the field', () => {
    const r = parseSchedulerConfig(`
plugins:
- type: precise-prefix-cache-scorer
  parameters:
    tokenProcessorConfig: { blockSize: 0, hashAlgo: xxhash }
    indexerConfig: { kvCacheBackendConfigs: [{ name: cpu, weight: 2 }] }
`);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const paths = r.problems.map((p) => p.path);
    expect(paths).toEqual(expect.arrayContaining(['plugins[0].parameters.tokenProcessorConfig.blockSize', 'plugins[0].parameters.tokenProcessorConfig.hashAlgo', 'plugins[0].parameters.indexerConfig.kvCacheBackendConfigs[0].weight']));
  });

  it('llm-d\'s split form: prefix-cache-scorer reading a precise-prefix-cache-producer by name', () => {
    const r = parseSchedulerConfig(`
plugins:
- type: precise-prefix-cache-producer
  parameters: { tokenProcessorConfig: { blockSize: 64 }, indexerConfig: { kvBlockIndexConfig: { enableMetrics: true } } }
- type: prefix-cache-scorer
  parameters: { prefixMatchInfoProducerName: precise-prefix-cache-producer }
- type: max-score-picker
schedulingProfiles:
- name: split
  plugins: [{ pluginRef: prefix-cache-scorer, weight: 2 }, { pluginRef: max-score-picker }]
`);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(createScheduler({ config: r.config }).profileNames()).toContain('split');
    // The scorer reads the named precise producer (not an approximate one of its own).
    expect(buildProfiles(r.config).get('split')!.producers.map((p) => p.type)).toEqual(['precise-prefix-cache-producer']);
  });
});

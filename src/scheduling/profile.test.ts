import { describe, expect, it } from 'vitest';
import type { Endpoint } from '../endpoints/types.ts';
import { createScheduler, parseSchedulerConfig } from './index.ts';
import type { Explanation } from './explain.ts';
import { builtInConfig } from './profile.ts';
import { endpoint, NOW, pool, request } from './testing.ts';

/** llm-d's deploy/config/epp-config.yaml, as published. */
const EPP_CONFIG = `apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: prefix-cache-scorer
- type: decode-filter
- type: max-score-picker
- type: single-profile-handler
schedulingProfiles:
- name: default
  plugins:
  - pluginRef: decode-filter
  - pluginRef: max-score-picker
  - pluginRef: prefix-cache-scorer
    weight: 2
`;
const SHORT = 'user: What is the capital of France?';

function scheduler(yaml?: string) {
  const parsed = yaml === undefined ? undefined : parseSchedulerConfig(yaml);
  if (parsed && !parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return createScheduler({ config: parsed?.config, now: () => NOW, random: () => 0.5, fallbacks: 0 });
}

/** Send `sent` prompts to endpoints (dispatch + completion), then the scores of `prompt` by scorer `scorer`, in endpoint order. */
function scoresAfter(yaml: string | undefined, eps: Endpoint[], sent: Array<[number, string]>, prompt: string, scorer: string, model = 'base'): number[] {
  const s = scheduler(yaml);
  let n = 0;
  for (const [i, text] of sent) {
    const r = request({ requestId: `s${n++}`, prompt: text, targetModel: model });
    s.dispatched(pool(), eps[i]!, r);
    s.completed(pool(), eps[i]!, r);
  }
  const d = s.decide(pool(), { pool: 'pool', endpoints: eps, at: NOW, hasMetrics: true }, request({ requestId: 'q', prompt, targetModel: model, explain: true }));
  if (d.kind !== 'route') throw new Error(`no route: ${d.kind}`);
  const byId = new Map(((d.explain as Explanation).candidates ?? []).map((c) => [c.id, c.scores[scorer]]));
  return eps.map((e) => byId.get(e.id)!);
}

const eps = () => [endpoint(1), endpoint(2), endpoint(3)];

describe("an llm-d configuration's prefix-cache-scorer", () => {
  it("without a producer gets llm-d's default one: token blocks, the partial block hashed (epp-config.yaml); hashBlockSize: 64 keeps 64-byte blocks", () => {
    expect(scoresAfter(EPP_CONFIG, eps(), [[0, SHORT]], SHORT, 'prefix-cache-scorer')).toEqual([1, 0, 0]);
    const bytes = 'plugins:\n- type: prefix-cache-scorer\n  parameters: { hashBlockSize: 64 }\n- type: max-score-picker\n';
    expect(scoresAfter(bytes, eps(), [[0, SHORT]], SHORT, 'prefix-cache-scorer')).toEqual([0, 0, 0]);
  });

  it('with the deprecated blockSize reads it as blockSizeTokens', () => {
    const yaml = 'plugins:\n- type: approx-prefix-cache-producer\n  parameters: { blockSize: 64 }\n- type: prefix-cache-scorer\n- type: max-score-picker\n';
    expect(scoresAfter(yaml, eps(), [[1, SHORT]], SHORT, 'prefix-cache-scorer')).toEqual([0, 1, 0]);
  });

  it('matches beyond maxPrefixBlocksToMatch when maxPrefixTokensToMatch is set (its default included)', () => {
    const yaml = 'plugins:\n- type: approx-prefix-cache-producer\n  parameters: { blockSizeTokens: 64, maxPrefixBlocksToMatch: 4 }\n- type: prefix-cache-scorer\n- type: max-score-picker\n';
    const blk = (c: string, k: number) => c.repeat(256 * k);
    const sent: Array<[number, string]> = [[0, blk('s', 4) + blk('a', 4)], [1, blk('s', 4) + blk('b', 4)]];
    expect(scoresAfter(yaml, eps(), sent, blk('s', 4) + blk('b', 4) + blk('c', 2), 'prefix-cache-scorer')).toEqual([0.4, 0.8, 0]);
  });
});

describe("an llm-d configuration's lora-affinity-scorer", () => {
  it('scores a base-model request by free adapter slots, as llm-d', () => {
    const yaml = 'plugins:\n- type: lora-affinity-scorer\n- type: max-score-picker\n';
    const lora = [endpoint(1, { activeAdapters: ['x', 'y'], maxAdapters: 2 }), endpoint(2, { activeAdapters: [], maxAdapters: 2 })];
    expect(scoresAfter(yaml, lora, [], 'x', 'lora-affinity-scorer')).toEqual([0, 0.8]);
  });
});

describe('the built-in default profile keeps its own parameters', () => {
  it("writes them out (64-byte prefix blocks, infergate's LoRA classes) and behaves as before", () => {
    const plugins = new Map(builtInConfig().plugins.map((p) => [p.name, p.parameters]));
    expect(plugins.get('prefix-cache-scorer')).toEqual({ hashBlockSize: 64, maxPrefixBlocksToMatch: 2048 });
    expect(plugins.get('gie-prefix-cache-scorer')).toEqual({ hashBlockSize: 64, maxPrefixBlocksToMatch: 256 });
    expect(plugins.get('lora-affinity-scorer')).toEqual({ builtInClasses: true });
    // And behaves as before: a prompt shorter than a 64-byte block is not matched, base-model requests are neutral.
    expect(scoresAfter(undefined, eps(), [[0, SHORT]], SHORT, 'prefix-cache-scorer')).toEqual([0, 0, 0]);
    const lora = [endpoint(1, { activeAdapters: ['x', 'y'], maxAdapters: 2 }), endpoint(2, { activeAdapters: [], maxAdapters: 2 })];
    expect(scoresAfter(undefined, lora, [], 'x', 'lora-affinity-scorer')).toEqual([1, 1]);
  });
});

describe('prefill-work-scorer beside an approximate prefix producer', () => {
  const config = (plugins: string) => `plugins:
${plugins}
- type: prefill-work-scorer
- type: max-score-picker
schedulingProfiles:
- name: default
  plugins:
  - pluginRef: prefix-cache-scorer
  - pluginRef: prefill-work-scorer
  - pluginRef: max-score-picker
`;

  it('is accepted when the producer the scorer reads hashes 64-byte blocks (hashBlockSize: 64), declared or its own', () => {
    expect(parseSchedulerConfig(config('- type: approx-prefix-cache-producer\n  parameters: { hashBlockSize: 64 }\n- type: prefix-cache-scorer')).ok).toBe(true);
    expect(parseSchedulerConfig(config('- type: prefix-cache-scorer\n  parameters: { hashBlockSize: 64 }')).ok).toBe(true);
  });

  it('is refused when that producer would hash llm-d\'s token blocks, naming it and the parameter to give', () => {
    const parsed = parseSchedulerConfig(config('- type: prefix-cache-scorer'));
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.problems).toContainEqual(expect.objectContaining({ path: 'plugins (prefix-cache-scorer)', message: expect.stringContaining('hashBlockSize: 64') }));
  });
});

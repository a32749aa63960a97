import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { describeUnsupportedLlmdPlugin, LLMD_PLUGINS, llmdPlugin } from './llmd-plugins.ts';
import { pluginTypeNames } from './plugins/registry.ts';

/** llm-d's published example files (issue 13's shared material), in `shared/` beside the checkout. */
const ECOSYSTEM_LLMD = findUp(new URL('.', import.meta.url).pathname, 'shared/ecosystem/llm-d');

function findUp(from: string, rel: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, rel))) return join(dir, rel);
    if (dirname(dir) === dir) return join(from, rel);
  }
}

/** Every `plugins[].type` of the EndpointPickerConfig documents in one YAML file. */
function pluginTypesIn(text: string): string[] {
  const types: string[] = [];
  for (const doc of parseAllDocuments(text)) {
    const value: unknown = doc.toJS();
    if (typeof value !== 'object' || value === null || (value as { kind?: unknown }).kind !== 'EndpointPickerConfig') continue;
    const plugins = (value as { plugins?: unknown }).plugins;
    if (!Array.isArray(plugins)) continue;
    for (const p of plugins) if (typeof p === 'object' && p !== null && typeof (p as { type?: unknown }).type === 'string') types.push((p as { type: string }).type);
  }
  return types;
}

describe('llm-d plugin catalogue', () => {
  it('names each type once', () => {
    const types = LLMD_PLUGINS.map((p) => p.type);
    expect(new Set(types).size).toBe(types.length);
  });

  it('points `nearest` only at plugin types infergate has', () => {
    const ours = new Set(pluginTypeNames());
    for (const p of LLMD_PLUGINS) if (p.nearest) expect(ours, `${p.type} → ${p.nearest}`).toContain(p.nearest);
  });

  it('gives every deprecated name its replacement, and each replacement is catalogued', () => {
    for (const p of LLMD_PLUGINS.filter((p) => p.stability === 'deprecated')) {
      expect(p.replacedBy, p.type).toBeDefined();
      expect(llmdPlugin(p.replacedBy!), `${p.type} → ${p.replacedBy}`).toBeDefined();
    }
  });

  it('says what a plugin does and what is nearest when refusing it', () => {
    const message = describeUnsupportedLlmdPlugin(llmdPlugin('load-aware-scorer')!);
    expect(message).toContain('"load-aware-scorer" is an llm-d scorer');
    expect(message).toContain('Nearest in infergate: queue-scorer.');
  });

  it.skipIf(!existsSync(ECOSYSTEM_LLMD))('has every plugin type named in the ecosystem llm-d files', () => {
    const files = readdirSync(ECOSYSTEM_LLMD).filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'));
    const named = new Map<string, string>();
    for (const f of files) for (const t of pluginTypesIn(readFileSync(join(ECOSYSTEM_LLMD, f), 'utf8'))) named.set(t, f);
    expect(named.size).toBeGreaterThan(10);
    const missing = [...named].filter(([t]) => !llmdPlugin(t)).map(([t, f]) => `${t} (${f})`);
    expect(missing).toEqual([]);
  });
});

/**
 * docs/compatibility.md tells the truth about llm-d's plugin types: every type
 * of the catalogue (src/scheduling/llmd-plugins.ts) has a row whose infergate
 * column is **supported**, **supported differently** or **not supported**, and
 * it says supported exactly when an EndpointPickerConfig naming the type loads.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LLMD_PLUGINS } from '../src/scheduling/llmd-plugins.ts';
import { validateSchedulerConfig } from '../src/scheduling/config.ts';

const doc = readFileSync(new URL('../docs/compatibility.md', import.meta.url), 'utf8');

/** The last cell of the plugin table row of `type`. */
function status(type: string): string | undefined {
  const row = doc.split('\n').find((l) => l.startsWith(`| \`${type}\` |`));
  return row?.split(' | ').at(-1)?.replace(/ \|$/, '');
}

describe('docs/compatibility.md, the llm-d plugin table', () => {
  it.each(LLMD_PLUGINS.map((p) => [p.type]))('%s has a final status that matches what the config loader does', (type) => {
    const said = status(type);
    expect(said, `no row for ${type}`).toMatch(/^\*\*(supported|supported differently|not supported)\*\*/);
    const loads = !validateSchedulerConfig({ plugins: [{ type }] }).ok ? false : true;
    // A type whose defaults are not enough to load (required parameters) is still "supported" when the refusal is about parameters, not the type.
    const refusedByType = !loads && JSON.stringify(validateSchedulerConfig({ plugins: [{ type }] })).includes('infergate does not have');
    expect(said!.startsWith('**not supported**'), `${type}: doc says ${said}`).toBe(refusedByType);
  });

  it('has no plan left in it', () => {
    expect(doc).not.toMatch(/\*planned\*|planned: /);
  });
});

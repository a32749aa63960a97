/**
 * Gateway API HTTPRoute precedence beyond the match itself (ties go to the
 * oldest route by creationTimestamp, then the first by "{namespace}/{name}"),
 * and HTTPRouteMatch's rule for repeated names (only the first entry of an
 * equivalent name counts).
 */
import { describe, expect, it } from 'vitest';
import { compileTable, matchRule } from './compile.ts';
import { importManifests } from './manifests.ts';
import { validateTable } from './validate.ts';

const pools = ['gemma3', 'deepseek-r1']
  .map((name) => `apiVersion: inference.networking.k8s.io/v1\nkind: InferencePool\nmetadata: { name: ${name} }\nspec: { selector: { matchLabels: { pool: ${name} } }, targetPorts: [{ number: 8000 }] }\n---\n`)
  .join('');
const route = (name: string, pool: string, meta = '', match = '{ path: { value: /v1 } }') => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${name}${meta} }
spec:
  rules:
  - matches: [${match}]
    backendRefs: [{ group: inference.networking.k8s.io, kind: InferencePool, name: ${pool} }]
---
`;

function pick(text: string, path: string, headers: Record<string, string> = {}, query: Record<string, string> = {}) {
  const v = validateTable(importManifests(text).table);
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  const rule = matchRule(compileTable(v.table), path, (n) => headers[n] ?? null, { query: (n) => query[n] ?? null });
  return rule && `${rule.route} → ${rule.backends[0]!.pool?.name ?? '(no such pool here)'}`;
}

describe('ties between routes', () => {
  const at = (ts: string, ns = '') => `, creationTimestamp: "${ts}"${ns ? `, namespace: ${ns}` : ''}`;

  it('go to the oldest route, then to the first by {namespace}/{name}, never to the first written', () => {
    expect(pick(pools + route('zeta', 'deepseek-r1') + route('alpha', 'gemma3'), '/v1/chat/completions')).toBe('alpha → gemma3');
    const same = at('2026-01-01T00:00:00Z');
    expect(pick(pools + route('zeta', 'deepseek-r1', same) + route('alpha', 'gemma3', same), '/v1/chat/completions')).toBe('alpha → gemma3');
    expect(pick(pools + route('b', 'deepseek-r1', at('2026-01-01T00:00:00Z', 'a')) + route('c', 'gemma3', at('2026-01-01T00:00:00Z', 'a-b')), '/v1/x')).toBe('a-b/c → (no such pool here)');
    const older = pools + route('alpha', 'gemma3', at('2026-03-01T00:00:00Z')) + route('zeta', 'deepseek-r1', at('2026-01-01T00:00:00Z'));
    expect(pick(older, '/v1/chat/completions')).toBe('zeta → deepseek-r1');
  });
});

describe('repeated names in one match', () => {
  it('headers: only the first of names equal ignoring case is considered', () => {
    const text = pools + route('dup-headers', 'gemma3', '', '{ path: { value: /v2 }, headers: [{ name: x-tier, value: gold }, { name: X-Tier, value: silver }] }');
    expect(pick(text, '/v2/x', { 'x-tier': 'gold' })).toBe('dup-headers → gemma3');
    expect(pick(text, '/v2/x', { 'x-tier': 'silver' })).toBeUndefined();
  });

  it('query params: only the first of equal names is considered; names differing in case are two params', () => {
    const text = pools + route('dup-query', 'gemma3', '', '{ path: { value: /v2 }, queryParams: [{ name: v, value: "1" }, { name: v, value: "2" }, { name: V, value: "3" }] }');
    expect(pick(text, '/v2/x', {}, { v: '1', V: '3' })).toBe('dup-query → gemma3');
    expect(pick(text, '/v2/x', {}, { v: '1' })).toBeUndefined();
  });
});

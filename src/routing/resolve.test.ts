import { describe, expect, it } from 'vitest';
import { compileTable, matchRule } from './compile.ts';
import { intersectHostnames, hostnameMatches, requestHost } from './hostnames.ts';
import { resolveRequest, type Resolution } from './resolve.ts';
import { validateTable } from './validate.ts';
import type { GatewayError } from '../api/errors.ts';

function compiled(input: unknown) {
  const v = validateTable(input);
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  return compileTable(v.table);
}
const headers = (h: Record<string, string>) => ({ get: (n: string) => h[n] ?? null, forEach: () => {} });
const pools = ['a', 'b', 'c'].map((name) => ({ name, selector: { pool: name }, targetPorts: [8000] }));

describe('hostnames (Gateway API)', () => {
  it.each([
    ['*.example.com', 'a.example.com', true],
    ['*.example.com', 'a.b.example.com', true],
    ['*.example.com', 'example.com', false],
    ['foo.example.com', 'foo.example.com', true],
    ['foo.example.com', 'bar.example.com', false],
  ])('%s matches %s: %s', (pattern, host, expected) => expect(hostnameMatches(pattern, host)).toBe(expected));

  it.each([
    [[], undefined, []],
    [[], 'secondary.example.com', ['secondary.example.com']],
    [['primary.example.com'], 'secondary.example.com', undefined],
    [['a.example.com', 'b.other.com'], '*.example.com', ['a.example.com']],
    [['*.example.com'], 'a.example.com', ['a.example.com']],
    [['*.example.com'], '*.b.example.com', ['*.b.example.com']],
  ] as const)('route %j on listener %s → %j', (route, listener, expected) => expect(intersectHostnames(route, listener)).toEqual(expected));

  it('reads the host of a Host header', () => {
    expect(requestHost('Primary.Example.com:8080')).toBe('primary.example.com');
    expect(requestHost('[::1]:80')).toBe('::1');
    expect(requestHost(null)).toBe('');
  });
});

describe('route matching: host, method, query', () => {
  const table = compiled({
    pools,
    routes: [
      { name: 'any', rules: [{ matches: [{ path: { value: '/v1' } }], backendRefs: [{ pool: 'a' }] }] },
      { name: 'wild', hostnames: ['*.example.com'], rules: [{ matches: [{ path: { value: '/' } }], backendRefs: [{ pool: 'b' }] }] },
      { name: 'exact', hostnames: ['x.example.com'], rules: [{ matches: [{ path: { value: '/' } }], backendRefs: [{ pool: 'c' }] }] },
      { name: 'verbs', rules: [{ matches: [{ path: { value: '/q' }, method: 'GET', queryParams: [{ name: 'v', value: '2' }] }], backendRefs: [{ pool: 'c' }] }, { matches: [{ path: { value: '/q' } }], backendRefs: [{ pool: 'a' }] }] },
    ],
  });
  const pick = (path: string, host: string, method = 'POST', q: Record<string, string> = {}) =>
    matchRule(table, path, () => null, { host, method, query: (n) => q[n] ?? null })?.backends[0]?.pool?.name;

  it.each([
    ['/v1/chat', 'other.com', 'a'],
    ['/v1/chat', 'y.example.com', 'b'], // a matching hostname beats a longer path without one
    ['/v1/chat', 'x.example.com', 'c'], // exact beats wildcard
    ['/nothing', 'other.com', undefined],
  ])('%s on %s → %s', (path, host, pool) => expect(pick(path, host)).toBe(pool));

  it('a method and query-param match is more specific, and must hold', () => {
    expect(pick('/q', 'h', 'GET', { v: '2' })).toBe('c');
    expect(pick('/q', 'h', 'GET', { v: '3' })).toBe('a');
    expect(pick('/q', 'h', 'POST', { v: '2' })).toBe('a');
  });
});

describe('resolution', () => {
  const table = compiled({
    pools,
    routes: [
      { name: 'r', rules: [{ matches: [{ path: { value: '/v1' } }], backendRefs: [{ pool: 'a' }], requestTimeoutMs: 1500 }] },
      { name: 'legacy', rules: [{ matches: [{ path: { value: '/legacy' } }], backendRefs: [{ pool: 'b' }] }] },
      { name: 'named', rules: [{ matches: [{ path: { value: '/custom' } }], backendRefs: [{ pool: 'a' }] }] },
    ],
    models: [{ name: 'bot', pool: 'b', criticality: 'Critical', targetModels: [{ name: 'bot-v1' }] }],
    objectives: [
      { name: 'batch', pool: 'a', priority: -3 },
      { name: 'batch', pool: 'b', priority: 7 },
    ],
    rewrites: [
      { name: 'first', pool: 'a', rules: [{ models: ['sql'], targets: [{ model: 'sql-v1', weight: 90 }, { model: 'sql-v2', weight: 10 }] }, { models: [], targets: [{ model: 'fallback' }] }] },
      { name: 'second', pool: 'a', rules: [{ models: ['sql'], targets: [{ model: 'never' }] }] },
    ],
  });
  let seed = 7;
  const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const resolve = (path: string, model: string | undefined, h: Record<string, string> = {}, api = true): Resolution => resolveRequest(table, path, headers(h), model, random, { api });
  const fails = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      return err as GatewayError;
    }
    throw new Error('did not fail');
  };

  it('an exact rewrite rule of the oldest rewrite wins, split by weight; a match-all rule takes the rest', () => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < 2000; i++) {
      const r = resolve('/v1/chat/completions', 'sql');
      counts[r.targetModel] = (counts[r.targetModel] ?? 0) + 1;
      expect(r.rewrite).toBe('first');
    }
    expect(counts['never']).toBeUndefined();
    expect(counts['sql-v1']! / 2000).toBeGreaterThan(0.86);
    expect(counts['sql-v1']! / 2000).toBeLessThan(0.94);
    expect(resolve('/v1/chat/completions', 'other').targetModel).toBe('fallback');
  });

  it('the model-name-rewrite header names the target, llm-d first', () => {
    expect(resolve('/v1/x', 'sql', { 'x-gateway-model-name-rewrite': 'gie', 'x-llm-d-model-name-rewrite': 'llmd' }).targetModel).toBe('llmd');
    expect(resolve('/v1/x', 'sql', { 'x-gateway-model-name-rewrite': 'gie' }).targetModel).toBe('gie');
  });

  it('objectives are named per pool; an unknown one is priority 0, as llm-d', () => {
    expect(resolve('/v1/x', 'm', { 'x-llm-d-inference-objective': 'batch' })).toMatchObject({ priority: -3, criticality: 'Sheddable', objective: { name: 'batch', known: true } });
    expect(resolve('/legacy', 'bot', { 'x-gateway-inference-objective': 'batch' })).toMatchObject({ priority: 7, criticality: 'Critical' });
    expect(resolve('/v1/x', 'm', { 'x-llm-d-inference-objective': 'nope' })).toMatchObject({ priority: 0, criticality: 'Standard', objective: { name: 'nope', known: false } });
    expect(resolve('/legacy', 'bot')).toMatchObject({ priority: 1, criticality: 'Critical', targetModel: 'bot-v1' });
  });

  it('a pool with InferenceModels serves only their names; others are 404', () => {
    expect(fails(() => resolve('/legacy', 'gpt-17')).code).toBe('model_not_found');
  });

  it('carries the route timeout and the endpoint hints', () => {
    const r = resolve('/v1/x', 'm', { 'x-gateway-destination-endpoint-subset': '10.0.0.1:8000, 10.0.0.2:8000', 'test-epp-endpoint-selection': '10.0.0.3' });
    expect(r.requestTimeoutMs).toBe(1500);
    expect(r.hints).toEqual({ subset: ['10.0.0.1:8000', '10.0.0.2:8000'], selection: ['10.0.0.3'] });
  });

  it('outside the OpenAI API only rules that name a path serve, with or without a model', () => {
    expect(resolve('/custom/thing', undefined, {}, false).pool.name).toBe('a');
    expect(fails(() => resolve('/v2/nothing', undefined, {}, false)).code).toBe('unknown_url');
    expect(fails(() => resolve('/v1/x', undefined)).code).toBe('missing_required_parameter');
  });
});

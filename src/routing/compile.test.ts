import { describe, expect, it } from 'vitest';
import { compileTable, drawWeighted, matchRule } from './compile.ts';
import { validateTable } from './validate.ts';

function compiled(input: unknown) {
  const v = validateTable(input);
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  return compileTable(v.table);
}

const pools = ['a', 'b', 'c', 'd'].map((name) => ({ name, selector: { pool: name }, targetPorts: [8000] }));
const headers = (h: Record<string, string>) => (n: string) => h[n] ?? null;

describe('route precedence (Gateway API)', () => {
  const table = compiled({
    pools,
    routes: [
      {
        name: 'r',
        rules: [
          { matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [{ pool: 'a' }] },
          { matches: [{ path: { type: 'PathPrefix', value: '/v1' }, headers: [{ name: 'X-Team', value: 'blue' }] }], backendRefs: [{ pool: 'b' }] },
          { matches: [{ path: { type: 'PathPrefix', value: '/v1/chat' } }], backendRefs: [{ pool: 'c' }] },
          { matches: [{ path: { type: 'Exact', value: '/v1/completions' } }], backendRefs: [{ pool: 'd' }] },
          { matches: [{ path: { type: 'PathPrefix', value: '/v1' }, headers: [{ name: 'x-team', value: 're?d', type: 'RegularExpression' }, { name: 'x-tier', value: 'gold' }] }], backendRefs: [{ pool: 'd' }] },
        ],
      },
    ],
  });
  const cases: [string, Record<string, string>, string | undefined][] = [
    ['/v1/chat/completions', {}, 'c'], // longest prefix wins
    ['/v1/completions', {}, 'd'], // exact beats prefix
    ['/v1/embeddings', { 'x-team': 'blue' }, 'b'], // header match beats the catch-all
    ['/v1/embeddings', { 'x-team': 'red', 'x-tier': 'gold' }, 'd'], // more header matches win; regex anchored
    ['/v1/embeddings', { 'x-team': 'reed', 'x-tier': 'gold' }, 'a'],
    ['/v1x', { 'x-team': 'blue' }, 'a'], // prefixes match whole path elements
    ['/other', {}, 'a'],
  ];
  for (const [path, h, pool] of cases) {
    it(`${path} ${JSON.stringify(h)} → ${pool}`, () => {
      expect(matchRule(table, path, headers(h))?.backends[0]?.pool?.name).toBe(pool);
    });
  }
});

describe('weighted draw', () => {
  it('follows the weights', () => {
    const items = [{ weight: 90, n: 'v1' }, { weight: 10, n: 'v2' }];
    let seed = 1;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const counts = { v1: 0, v2: 0 } as Record<string, number>;
    for (let i = 0; i < 10_000; i++) counts[drawWeighted(items, 100, random)!.n]!++;
    expect(counts.v1! / 10_000).toBeGreaterThan(0.87);
    expect(counts.v1! / 10_000).toBeLessThan(0.93);
  });
});

describe('validateTable', () => {
  it('rejects a table whole, naming every problem by object and field path', () => {
    const r = validateTable({
      pools: [{ name: 'a', selector: {}, targetPorts: [8000] }],
      routes: [{ name: 'r', rules: [{ backendRefs: [{ pool: 'missing' }] }, { backendRefs: [{ pool: 'a', weight: -1 }] }] }],
      models: [{ name: 'm', pool: 'nowhere' }],
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    // Shape errors are reported first (the weight); references need a well-formed table.
    expect(r.problems).toEqual([expect.objectContaining({ object: 'Route/r', path: 'routes[0].rules[1].backendRefs[0].weight' })]);
  });

  it('names missing references', () => {
    const r = validateTable({
      pools: [{ name: 'a', selector: {}, targetPorts: [8000] }],
      routes: [{ name: 'r', rules: [{ backendRefs: [{ pool: 'missing' }] }] }],
      models: [{ name: 'm', pool: 'nowhere' }],
    });
    expect(r.ok ? [] : r.problems.map((p) => `${p.object} ${p.path}`)).toEqual(['Route/r rules[0].backendRefs[0].pool', 'Model/m models[0].pool']);
  });
});

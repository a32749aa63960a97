import { describe, expect, it } from 'vitest';
import { importManifests } from '../routing/manifests.ts';
import { validateTable } from '../routing/validate.ts';
import { tableFromWire, tableToWire } from '../control/table-wire.ts';
import { ObservedRequest } from '../proxy/observer.ts';
import { chargedTokens, goDuration, TokenBudgets } from './budgets.ts';
import { estimatePromptTokens, maxOutputTokens } from './estimate.ts';
import { MemoryBudgetStore } from './store.ts';

describe('what a request may cost', () => {
  it('prompt: text ~4 characters a token, token ids one each, chat messages plus their template markers', () => {
    expect(estimatePromptTokens({ kind: 'completions', body: { prompt: 'x'.repeat(41) } })).toBe(11);
    expect(estimatePromptTokens({ kind: 'completions', body: { prompt: [1, 2, 3] } })).toBe(3);
    expect(estimatePromptTokens({ kind: 'completions', body: { prompt: [[1, 2], [3]] } })).toBe(3);
    expect(estimatePromptTokens({ kind: 'embeddings', body: { input: ['abcd', 'abcdefgh'] } })).toBe(3);
    expect(estimatePromptTokens({ kind: 'chat', body: { messages: [{ role: 'system', content: 'x'.repeat(8) }, { role: 'user', content: [{ type: 'text', text: 'y'.repeat(4) }] }] } })).toBe(4 + 2 + 4 + 1);
  });

  it('answer: max_completion_tokens, else max_tokens, else the default; times n; embeddings none', () => {
    expect(maxOutputTokens({ kind: 'chat', body: { max_completion_tokens: 50, max_tokens: 10 } }, 1024)).toBe(50);
    expect(maxOutputTokens({ kind: 'completions', body: { max_tokens: 10, n: 3 } }, 1024)).toBe(30);
    expect(maxOutputTokens({ kind: 'completions', body: { max_tokens: 'ten' } }, 1024)).toBe(1024);
    expect(maxOutputTokens({ kind: 'embeddings', body: { max_tokens: 10 } }, 1024)).toBe(0);
  });
});

describe('what a request is charged when it ends', () => {
  const ended = (f: (r: ObservedRequest) => void) => {
    const r = new ObservedRequest('chat', '/v1/chat/completions', 'id', new Headers(), 0, 0);
    f(r);
    return chargedTokens(r, 500);
  };
  it('its usage; its reservation when served without usage; nothing when it failed or was never answered', () => {
    expect(ended((r) => Object.assign(r, { answered: true, status: 200, usage: { input: 10, output: 5 } }))).toBe(15);
    expect(ended((r) => Object.assign(r, { answered: true, status: 200 }))).toBe(500);
    expect(ended((r) => Object.assign(r, { answered: true, status: 400 }))).toBe(0);
    expect(ended((r) => Object.assign(r, { status: 503 }))).toBe(0);
  });
});

describe('OpenAI-style durations', () => {
  it('writes ms, seconds and minutes as OpenAI\'s headers do', () => {
    expect(goDuration(250)).toBe('250ms');
    expect(goDuration(7500)).toBe('7.5s');
    expect(goDuration(60_000)).toBe('1m0s');
    expect(goDuration(61_250)).toBe('1m1.25s');
  });
});

describe('TokenBudgets', () => {
  it('refuses a request larger than the whole budget without asking the store', async () => {
    const budgets = new TokenBudgets({ reserve: () => { throw new Error('not asked'); }, settle() {}, used: () => 0 });
    const check = await budgets.reserve({ name: 'b', tenant: 't', tokensPerMinute: 100, maxConcurrentRequests: 0, defaultMaxTokens: 1024 }, 't', { kind: 'chat', body: { messages: [{ role: 'user', content: 'hi' }] } });
    expect('refused' in check && check.refused.status).toBe(429);
  });
  it('the `*` budget holds every tenant without one of its own', () => {
    const own = { name: 'a', tenant: 'a', tokensPerMinute: 1, maxConcurrentRequests: 0, defaultMaxTokens: 1 };
    const any = { ...own, name: 'any', tenant: '*' };
    const map = new Map([['a', own], ['*', any]]);
    expect(TokenBudgets.budgetFor(map, 'a')).toBe(own);
    expect(TokenBudgets.budgetFor(map, 'b')).toBe(any);
    expect(TokenBudgets.budgetFor(new Map([['a', own]]), 'b')).toBeUndefined();
  });
  it('a refusal for requests in flight says when the token window is whole again, and to retry in 1 s', async () => {
    let now = 1_000_000;
    const budgets = new TokenBudgets(new MemoryBudgetStore(() => now));
    const budget = { name: 'b', tenant: 't', tokensPerMinute: 100, maxConcurrentRequests: 1, defaultMaxTokens: 10 };
    const parsed = { kind: 'completions' as const, body: { prompt: 'abcd'.repeat(10), max_tokens: 80 } };
    expect('charge' in (await budgets.reserve(budget, 't', parsed))).toBe(true);
    now += 100;
    const check = await budgets.reserve(budget, 't', parsed);
    if (!('refused' in check)) throw new Error('not refused');
    expect(check.refused.type).toBe('requests');
    expect(check.refused.headers).toMatchObject({ 'retry-after': '1', 'x-ratelimit-remaining-tokens': '10', 'x-ratelimit-reset-tokens': '59.9s' });
  });
  it('settles through the store when the request ends', () => {
    const store = new MemoryBudgetStore();
    const budgets = new TokenBudgets(store);
    const r = store.reserve('t', 100, { tokensPerMinute: 1000, maxConcurrent: 0 });
    if (!r.ok) throw new Error('refused');
    const observed = new ObservedRequest('chat', '/v1/chat/completions', 'id', new Headers(), 0, 0);
    Object.assign(observed, { budget: { tenant: 't', held: r.held, reserved: 100 }, answered: true, status: 200, usage: { input: 3, output: 4 } });
    budgets.finished(observed);
    expect(store.used('t')).toBe(7);
    expect(observed.chargedTokens).toBe(7);
  });
});

const manifests = (extra: string) => `
apiVersion: inference.networking.k8s.io/v1
kind: InferencePool
metadata: { name: p }
spec: { selector: { matchLabels: { app: p } }, targetPorts: [{ number: 8000 }] }
${extra}`;

describe('TokenBudget manifests (infergate.dev/v1alpha1)', () => {
  it('become the table\'s budgets, and survive the wire', () => {
    const result = importManifests(
      manifests(`---
apiVersion: infergate.dev/v1alpha1
kind: TokenBudget
metadata: { name: team-a, namespace: tenants }
spec: { tenant: team-a, tokensPerMinute: 100000, maxConcurrentRequests: 20 }
`),
    );
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([]);
    expect(result.table.budgets).toEqual([{ name: 'tenants/team-a', tenant: 'team-a', tokensPerMinute: 100000, maxConcurrentRequests: 20, defaultMaxTokens: undefined }]);
    const v = validateTable(result.table);
    expect(v.ok && v.table.budgets).toEqual([{ name: 'tenants/team-a', tenant: 'team-a', tokensPerMinute: 100000, maxConcurrentRequests: 20, defaultMaxTokens: 1024 }]);
    const back = validateTable(tableFromWire(tableToWire(v.ok ? v.table : {})));
    expect(back.ok && back.table.budgets).toEqual(v.ok && v.table.budgets);
  });

  it('a budget that limits nothing, or a negative one, is rejected and says why; of two for one tenant the older holds it', () => {
    const bad = importManifests(
      manifests(`---
apiVersion: infergate.dev/v1alpha1
kind: TokenBudget
metadata: { name: empty }
spec: { tenant: a }
---
apiVersion: infergate.dev/v1alpha1
kind: TokenBudget
metadata: { name: negative }
spec: { tenant: b, tokensPerMinute: -5 }
`),
    );
    expect(bad.errors).toContainEqual(expect.objectContaining({ object: 'TokenBudget/empty', message: expect.stringContaining('limits nothing') }));
    expect(bad.errors).toContainEqual(expect.objectContaining({ object: 'TokenBudget/negative', path: 'spec.tokensPerMinute', message: 'must not be negative' }));

    const two = importManifests(
      manifests(`---
apiVersion: infergate.dev/v1alpha1
kind: TokenBudget
metadata: { name: newer, creationTimestamp: "2026-02-01T00:00:00Z" }
spec: { tenant: a, tokensPerMinute: 5 }
---
apiVersion: infergate.dev/v1alpha1
kind: TokenBudget
metadata: { name: older, creationTimestamp: "2026-01-01T00:00:00Z" }
spec: { tenant: a, tokensPerMinute: 7 }
`),
    );
    expect(two.errors).toEqual([]);
    expect(two.table.budgets).toMatchObject([{ name: 'older', tokensPerMinute: 7 }]);
    expect(two.objects.find((o) => o.name === 'newer')!.conditions).toContainEqual(expect.objectContaining({ type: 'Accepted', status: 'False', reason: 'TenantInUse' }));
  });

  it('a table pushed whole with two budgets for one tenant is rejected whole', () => {
    const v = validateTable({ budgets: [{ name: 'x', tenant: 'a', tokensPerMinute: 1 }, { name: 'y', tenant: 'a', tokensPerMinute: 2 }] });
    expect(v.ok).toBe(false);
    expect(!v.ok && v.problems).toContainEqual(expect.objectContaining({ object: 'TokenBudget/y', message: 'tenant "a" already has a budget' }));
  });
});

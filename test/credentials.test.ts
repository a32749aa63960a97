/**
 * Client API keys and what the pods receive (issue 16), over real sockets
 * with the official openai client: a key file of SHA-256 digests with
 * tenants, 401s in OpenAI's shape, Authorization stripped or replaced per
 * pool, X-Forwarded-For appended.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyDigest } from '../src/api/api-keys.ts';
import { ConfigError, startGateway, type RunningGateway } from '../src/runtime/node/index.ts';
import { staticEndpoints } from './static-endpoints.ts';
import { startWireUpstream, type WireUpstream } from './wire-upstream.ts';

const KEY = 'sk-ig-test-key-of-team-a';
let dir: string;
let pods: { open: WireUpstream; own: WireUpstream };
let gateway: RunningGateway;

const table = {
  routes: [{ name: 'r', rules: [{ matches: [{ headers: [{ name: 'x-gateway-model-name', value: 'open' }] }], backendRefs: [{ pool: 'open' }] }, { backendRefs: [{ pool: 'own' }] }] }],
  pools: [
    { name: 'open', selector: { pool: 'open' }, targetPorts: [8000], failureMode: 'FailOpen' as const },
    { name: 'own', selector: { pool: 'own' }, targetPorts: [8000], failureMode: 'FailOpen' as const },
  ],
  models: [
    { name: 'open', pool: 'open' },
    { name: 'own', pool: 'own' },
  ],
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'infergate-keys-'));
  writeFileSync(join(dir, 'keys.yaml'), `keys:\n  - name: ci\n    tenant: team-a\n    sha256: ${keyDigest(KEY)}\n`);
  writeFileSync(join(dir, 'upstream.yaml'), 'pools:\n  own: { authorization: replace, apiKey: sk-pods-secret }\n');
  pods = { open: await startWireUpstream(), own: await startWireUpstream() };
  gateway = await startGateway({
    port: 0,
    apiKeys: join(dir, 'keys.yaml'),
    upstreamCredentials: join(dir, 'upstream.yaml'),
    endpointSource: staticEndpoints([
      { address: '127.0.0.1', port: pods.open.port, labels: { pool: 'open' }, engine: 'vllm' },
      { address: '127.0.0.1', port: pods.own.port, labels: { pool: 'own' }, engine: 'vllm' },
    ]),
    log: () => {},
  });
  expect(gateway.store.apply(table).ok).toBe(true);
});
afterAll(async () => {
  await gateway?.close();
  await pods?.open.close();
  await pods?.own.close();
});

const client = (apiKey: string) => new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey, maxRetries: 0 });
const ask = (c: OpenAI, model: string, headers: Record<string, string> = {}) => c.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] }, { headers });

describe('client API keys', () => {
  it('refuses a wrong or missing key with 401 invalid_api_key, before any pod sees the request', async () => {
    const before = pods.open.received.length + pods.own.received.length;
    const wrong = await ask(client('sk-wrong-key-123456'), 'open').catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((wrong as InstanceType<typeof OpenAI.AuthenticationError>).code).toBe('invalid_api_key');
    expect((wrong as Error).message).toContain('sk-****3456');
    const missing = await fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'open', messages: [{ role: 'user', content: 'hi' }] }) });
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toContain('Bearer');
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key');
    expect(pods.open.received.length + pods.own.received.length).toBe(before);
  });

  it('serves a valid key; the pods get no client key by default, the pool’s own key where configured', async () => {
    const ok = client(KEY);
    await ask(ok, 'open');
    expect(pods.open.received.at(-1)!.headers.authorization).toBeUndefined();
    await ask(ok, 'own');
    expect(pods.own.received.at(-1)!.headers.authorization).toBe('Bearer sk-pods-secret');
  });

  it('appends the client address to X-Forwarded-For', async () => {
    await ask(client(KEY), 'open', { 'x-forwarded-for': '203.0.113.9' });
    expect(pods.open.received.at(-1)!.headers['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
    await ask(client(KEY), 'open');
    expect(pods.open.received.at(-1)!.headers['x-forwarded-for']).toBe('127.0.0.1');
  });

  it('refuses to start with a key file that is invalid, naming each problem', async () => {
    writeFileSync(join(dir, 'bad.yaml'), `keys:\n  - name: a\n    tenant: t\n    sha256: nothex\n  - name: b\n    sha256: ${keyDigest('x')}\n`);
    const err = await startGateway({ port: 0, apiKeys: join(dir, 'bad.yaml'), endpointSource: staticEndpoints([]), log: () => {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain("keys[0].sha256: must be the key's SHA-256 as 64 hex digits");
    expect((err as Error).message).toContain('keys[1].tenant: is required');
  });
});

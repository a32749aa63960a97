/**
 * An h2c pool (`appProtocol: kubernetes.io/h2c`) on the gateway on Deno
 * (src/runtime/deno/main.ts as a process): Deno's node:http2 carries
 * packages/http1's h2c client, for the requests and for the embedded agent's
 * scrapes, to a model-server double that speaks only HTTP/2 cleartext.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUsagePod, type UsagePod } from '../usage-pod.ts';
import { startDenoGateway, type Child } from './spawn.ts';
import { h2cPoolManifests } from '../h2c-manifests.ts';

let pod: UsagePod;
let deno: Child;
let url: string;

beforeAll(async () => {
  pod = await startUsagePod(undefined, { h2c: true });
  const dir = mkdtempSync(join(tmpdir(), 'infergate-deno-h2c-'));
  writeFileSync(join(dir, 'endpoints.json'), JSON.stringify({ endpoints: [{ address: '127.0.0.1', labels: { app: 'h2c-server' }, engine: 'vllm' }] }));
  writeFileSync(
    join(dir, 'manifests.yaml'),
    h2cPoolManifests([pod.port]),
  );
  ({ child: deno, url } = await startDenoGateway(dir, ['--access-log', 'off', '--scrape-interval', '50']));
}, 40_000);

afterAll(async () => {
  await deno?.stop();
  await pod?.close();
});

describe('the gateway on Deno, an h2c pool', () => {
  it('scrapes the pod over h2c (ready once metrics are in) and answers JSON and streamed completions from it', async () => {
    // FailClose: /readyz turns 200 only when the h2c scrape has given fresh metrics.
    let ready = 0;
    for (let i = 0; i < 200 && (ready = (await fetch(`${url}/readyz`)).status) !== 200; i++) await new Promise((r) => setTimeout(r, 50));
    expect(ready).toBe(200);
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const answer = await client.chat.completions.create({ model: 'llama-h2', messages: [{ role: 'user', content: 'hello from deno over h2' }] });
    expect(answer.model).toBe('llama-h2');
    let text = '';
    for await (const chunk of await client.chat.completions.create({ model: 'llama-h2', messages: [{ role: 'user', content: 'stream' }], stream: true })) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('t0t1t2');
    expect(pod.received.map((r) => r.httpVersion)).toEqual(['2.0', '2.0']);
    expect(new Set(pod.versions)).toEqual(new Set(['2.0']));
  });
});

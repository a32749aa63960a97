/**
 * The gateway with --kubernetes: its pods come from the (fake) API server's
 * watch, real simulated vLLM pods serve on loopback, requests go through the
 * official OpenAI client. Pods appear, turn ready and not ready, terminate
 * and go; a relist after 410 Gone loses nothing.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeKubeApiServer, type FakeKubeApiServer } from './fixtures/kube-apiserver/index.ts';
import { candidates, modelObject, NS, POD, podObject, poolObject, routeObject, setReady, startGatewayOn, startSimPods, until, type SimPods } from './kubernetes-helpers.ts';
import type { KubernetesGateway } from '../src/runtime/node/kubernetes-gateway.ts';

describe('gateway --kubernetes: pods from the API server', () => {
  let api: FakeKubeApiServer;
  let pods: SimPods;
  let gw: KubernetesGateway;
  let client: OpenAI;
  const id = (i: number) => `${pods.ip(i)}:${pods.port}`;

  beforeAll(async () => {
    api = await startFakeKubeApiServer({ bookmarkIntervalMs: 200 });
    pods = await startSimPods(3, { timeScale: 0.02 });
    api.create(poolObject('llama', pods.port));
    api.create(routeObject('llm-route', 'llama'));
    api.create(modelObject('llama', 'llama', 'llama'));
    api.create(podObject('vllm-0', pods.ip(0)));
    gw = await startGatewayOn(api);
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  afterAll(async () => {
    await gw?.close();
    await pods?.close();
    await api?.close();
  });

  it('serves the pool its pods, and follows each pod event as it comes', async () => {
    expect(gw.store.version).toBe(1);
    await until(() => candidates(gw, 'llama').join() === id(0), 'vllm-0 as the only candidate');
    const answer = await client.chat.completions.create({ model: 'llama', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 });
    expect(answer.choices[0]!.message.content).toBeTruthy();

    // A pod not ready yet is no candidate; it becomes one with its Ready condition.
    api.create(podObject('vllm-1', pods.ip(1), { ready: false }));
    api.create(podObject('other', pods.ip(2), { labels: { app: 'not-llama' } }));
    await new Promise((r) => setTimeout(r, 100));
    expect(candidates(gw, 'llama')).toEqual([id(0)]);
    setReady(api, 'vllm-1', true);
    await until(() => candidates(gw, 'llama').join() === [id(0), id(1)].join(), 'vllm-1 ready', 1000);

    // Not ready: out at that event; labels that stop matching: out; deleted: out.
    setReady(api, 'vllm-0', false);
    await until(() => candidates(gw, 'llama').join() === id(1), 'vllm-0 not ready', 1000);
    api.modify({ ...POD, namespace: NS, name: 'other' }, (o) => (o.metadata.labels = { app: 'llama' }));
    await until(() => candidates(gw, 'llama').join() === [id(1), id(2)].join(), 'other relabelled into the pool', 1000);
    api.remove({ ...POD, namespace: NS, name: 'other' }, { gracePeriodSeconds: 0 });
    await until(() => candidates(gw, 'llama').join() === id(1), 'other deleted', 1000);

    // Traffic follows: only vllm-1 serves now.
    const before = pods.finished();
    for (let i = 0; i < 6; i++) await client.chat.completions.create({ model: 'llama', messages: [{ role: 'user', content: `n ${i}` }], max_tokens: 2 });
    const after = pods.finished();
    expect(after.map((n, i) => n - before[i]!)).toEqual([0, 6, 0]);
    setReady(api, 'vllm-0', true);
    await until(() => candidates(gw, 'llama').length === 2, 'vllm-0 back');
  });

  it('a terminating pod gets no new request while its stream runs to the end', async () => {
    await until(() => candidates(gw, 'llama').join() === [id(0), id(1)].join(), 'two pods');
    setReady(api, 'vllm-1', false);
    await until(() => candidates(gw, 'llama').join() === id(0), 'vllm-0 alone');
    const atStart = pods.finished();
    // vLLM's ignore_eos: the simulated pod generates all 400 tokens (about a second at this time scale).
    const stream = await client.chat.completions.create({ model: 'llama', messages: [{ role: 'user', content: 'a long story' }], max_tokens: 400, stream: true, stream_options: { include_usage: true }, ignore_eos: true } as OpenAI.ChatCompletionCreateParamsStreaming);
    const chunks: string[] = [];
    let usage: { completion_tokens: number } | undefined;
    const reading = (async () => {
      for await (const chunk of stream) {
        chunks.push(chunk.choices[0]?.delta?.content ?? '');
        if (chunk.usage) usage = chunk.usage;
      }
    })();
    await until(() => chunks.length > 3, 'the stream to start');

    // vllm-0 starts terminating (kubectl delete, 30 s grace) while vllm-1 comes back.
    setReady(api, 'vllm-1', true);
    api.remove({ ...POD, namespace: NS, name: 'vllm-0' });
    const chunksAtTermination = chunks.length;
    await until(() => candidates(gw, 'llama').join() === id(1), 'vllm-0 draining, vllm-1 the only candidate', 1000);
    expect(api.get({ ...POD, namespace: NS, name: 'vllm-0' })!.metadata.deletionTimestamp).toBeTruthy();
    expect(gw.discovery!.pods().find((p) => p.name === 'vllm-0')).toMatchObject({ draining: true, ready: false });

    const before = pods.finished();
    for (let i = 0; i < 5; i++) await client.chat.completions.create({ model: 'llama', messages: [{ role: 'user', content: `during drain ${i}` }], max_tokens: 2 });
    const during = pods.finished();
    expect(during[1]! - before[1]!).toBe(5);
    await reading;
    expect(usage?.completion_tokens).toBe(400);
    expect(chunks.length).toBeGreaterThan(chunksAtTermination + 50); // it kept streaming after the pod began terminating
    await until(() => pods.finished()[0]! - atStart[0]! === 1, 'the one stream to be counted finished on the draining pod', 1000);

    // The kubelet confirms; the pod is gone. Bring a replacement for the next test.
    api.finishDeletion({ ...POD, namespace: NS, name: 'vllm-0' });
    api.create(podObject('vllm-0b', pods.ip(0)));
    await until(() => candidates(gw, 'llama').length === 2, 'the replacement');
  });

  it('after 410 Gone the informers relist and lose nothing that changed in between', async () => {
    const writesBefore = api.writes.length;
    const podLists = api.listCount('Pod');
    // Changes the open watches deliver, then every watch expired and the history compacted.
    setReady(api, 'vllm-1', false);
    api.compact({ expireWatches: true });
    // Changes made while the informers are between watches reach them only through the relist.
    api.remove({ ...POD, namespace: NS, name: 'vllm-0b' }, { gracePeriodSeconds: 0 });
    api.create(podObject('vllm-2', pods.ip(2)));
    setReady(api, 'vllm-1', true);
    await until(() => candidates(gw, 'llama').join() === [id(1), id(2)].join(), 'the state after the relist', 3000);
    await until(() => api.openWatches('Pod') === 1, 'the pod watch resumed');
    expect(api.listCount('Pod')).toBe(podLists + 1); // one relist, as 410 requires
    expect(gw.discovery!.pods().map((p) => p.name).sort()).toEqual(['vllm-1', 'vllm-2']);
    // The routing table did not change through all this (pods are not routing objects).
    expect(gw.store.version).toBe(1);
    expect(api.writes.slice(writesBefore).filter((w) => w.path.endsWith('/status'))).toEqual([]);
  });
});

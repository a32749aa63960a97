/**
 * KvIndexService end to end: an agent whose endpoints file points at
 * simulated pods publishing KV events over real ZMQ sockets answers a
 * gateway's LookupPrefix (Connect, in memory) with the pod that holds the
 * prompt's blocks, computed from the pod's own /tokenize.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, createRouterTransport } from '@connectrpc/connect';
import { KvIndexService } from '../src/gen/infergate/v1/kv_index_pb.ts';
import { MetricsAgent } from '../src/agent/agent.ts';
import { createAgentApp } from '../src/agent/app.ts';
import { kvTargets } from '../src/agent/kv-index-service.ts';
import { KvEventsCollector } from '../src/kvevents/collector.ts';
import { BlockHasher } from '../src/kvevents/block-hash.ts';
import { zmqTransport } from '../src/runtime/node/zmq-subscriber.ts';
import type { Simulator } from '../src/sim/index.ts';
import { startSimulator } from '../src/runtime/node/index.ts';

let sim: Simulator | undefined;
let collector: KvEventsCollector | undefined;
afterEach(async () => {
  await collector?.close();
  await sim?.close();
});

describe('KvIndexService', () => {
  it('answers LookupPrefix from the pods\' events; the state RPC shows the streams', async () => {
    sim = await startSimulator({
      pods: 2,
      port: 0,
      timeScale: 0.01,
      engineConfig: { numGpuBlocks: 256, defaultOutputTokens: 2 },
      kvEventsEndpoint: 'tcp://127.0.0.1:0',
      kvEventsReplayEndpoint: 'tcp://127.0.0.1:0',
    });
    const agent = new MetricsAgent({ get: async () => ({ status: 503, body: '' }) as never });
    agent.setEntries(
      sim.pods.map((p) => ({
        address: '127.0.0.1',
        port: p.port,
        labels: { pool: 'llama' },
        engine: 'vllm' as const,
        kvEventsEndpoint: p.kvEvents!.endpoint,
        kvEventsReplayEndpoint: p.kvEvents!.replayEndpoint,
      })),
    );
    collector = new KvEventsCollector({ transport: zmqTransport });
    const { routes } = createAgentApp(agent, { kvEvents: { collector, convention: { port: 5557 } } });
    const client = createClient(KvIndexService, createRouterTransport(routes));
    const pool = { selector: { pool: 'llama' }, targetPorts: [8000] };
    // The first call subscribes the pool's pods.
    expect((await client.lookupPrefix({ ...pool, blockHashes: [] })).matches.map((m) => m.blocks)).toEqual([0, 0]);
    await new Promise((r) => setTimeout(r, 100));

    const text = 'You are a helpful assistant. '.repeat(40);
    const served = sim.pods[1]!;
    const r = await fetch(`${served.url}/v1/completions`, { method: 'POST', body: JSON.stringify({ model: served.model, prompt: text, max_tokens: 2 }) });
    expect(r.status).toBe(200);
    await r.json();
    const tok = (await (await fetch(`${sim.pods[0]!.url}/tokenize`, { method: 'POST', body: JSON.stringify({ prompt: text }) })).json()) as { tokens: number[] };
    // The simulator's defaults: sha256 (pickle), seed "0", 16-token blocks.
    const { hashes } = new BlockHasher({ blockSize: 16, algo: 'sha256', seed: '0' }).hashes(tok.tokens);
    expect(hashes.length).toBe(Math.floor(tok.tokens.length / 16));

    let res = await client.lookupPrefix({ ...pool, blockHashes: [...hashes] });
    for (let i = 0; i < 100 && res.matches.find((m) => m.endpointId === `127.0.0.1:${served.port}`)!.blocks === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      res = await client.lookupPrefix({ ...pool, blockHashes: [...hashes] });
    }
    const byId = Object.fromEntries(res.matches.map((m) => [m.endpointId, m]));
    expect(byId[`127.0.0.1:${served.port}`]!.blocks).toBe(hashes.length);
    expect(byId[`127.0.0.1:${served.port}`]!.deviceBlocks).toBe(hashes.length);
    expect(byId[`127.0.0.1:${sim.pods[0]!.port}`]!.blocks).toBe(0);
    expect(res.indexUpdatedUnixMs).toBeGreaterThan(0);

    const state = await client.getKvIndexState(pool);
    expect(state.pods.map((p) => p.endpointId).sort()).toEqual(sim.pods.map((p) => `127.0.0.1:${p.port}`).sort());
    expect(state.pods.find((p) => p.endpointId === `127.0.0.1:${served.port}`)!.blocks).toBe(BigInt(hashes.length));
    expect(state.indexBytes).toBeGreaterThan(0n);

    await expect(client.lookupPrefix({ selector: { pool: 'llama' }, targetPorts: [0], blockHashes: [] })).rejects.toThrow(/target_ports|1-65535/);
  });

  it('uses the port convention for entries that name no KV-event endpoint', () => {
    const t = kvTargets([{ address: '10.0.0.7', labels: { pool: 'a' }, engine: 'vllm' }, { address: 'fd00::1', port: 8001, labels: { pool: 'a' }, engine: 'vllm', kvEventsEndpoint: 'tcp://10.9.9.9:6000' }], { selector: { pool: 'a' }, targetPorts: [8000] }, { port: 5557, replayPort: 5657 });
    expect(t).toEqual([
      { id: '10.0.0.7:8000', endpoint: 'tcp://10.0.0.7:5557', replayEndpoint: 'tcp://10.0.0.7:5657' },
      { id: 'fd00::1:8001', endpoint: 'tcp://10.9.9.9:6000', replayEndpoint: 'tcp://[fd00::1]:5657' },
    ]);
  });

  it('subscribes each data-parallel rank of a pod to its own port (vLLM offsets the port by the rank; llm-d\'s RankIndex)', () => {
    const pool = { selector: { pool: 'a' }, targetPorts: [8000, 8001] };
    const entry = { address: '10.0.0.7', labels: { pool: 'a' }, engine: 'vllm' as const };
    expect(kvTargets([entry], pool, { port: 5557, replayPort: 5657 })).toEqual([
      { id: '10.0.0.7:8000', endpoint: 'tcp://10.0.0.7:5557', replayEndpoint: 'tcp://10.0.0.7:5657' },
      { id: '10.0.0.7:8001', endpoint: 'tcp://10.0.0.7:5558', replayEndpoint: 'tcp://10.0.0.7:5658' },
    ]);
    // One address named for all of a pod's ports: each endpoint is told its rank, and is credited only with it.
    expect(kvTargets([{ ...entry, kvEventsEndpoint: 'tcp://10.0.0.7:6000' }], pool, { port: 5557 })).toEqual([
      { id: '10.0.0.7:8000', endpoint: 'tcp://10.0.0.7:6000', rank: 0 },
      { id: '10.0.0.7:8001', endpoint: 'tcp://10.0.0.7:6000', rank: 1 },
    ]);
  });
});

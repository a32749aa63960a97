/**
 * The director's own CPU per request, without sockets: `Gateway.answer` for a
 * non-streamed chat completion, in process, against an upstream that answers
 * at once from memory — the part of a proxied request that is neither the
 * HTTP/1.1 server nor the client (packages/http1). Beside bench:proxy's CPU
 * per request of the whole process, it tells the gateway's share.
 *
 *   npx tsx bench/proxy/gateway-cpu.ts [requests]
 */
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assembleGateway } from '../../src/gateway/assemble.ts';
import type { InboundRequest } from '../../src/http/inbound.ts';
import type { UpstreamClient } from '../../src/http/upstream.ts';
import type { EndpointSource, PoolSnapshot } from '../../src/endpoints/types.ts';
import { AbortOnce, NodeHeaders } from '@infergate/http1';
import { loadKernelModule, nodeFiles } from '../../src/runtime/node/index.ts';
import { staticEndpoints } from '../../test/static-endpoints.ts';
import { BENCH_BODY } from './load.ts';

const N = Number(process.argv[2] ?? 200_000);
const dir = mkdtempSync(join(tmpdir(), 'infergate-gwcpu-'));
writeFileSync(
  join(dir, 'manifests.yaml'),
  `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: bench }
spec:
  rules:
  - backendRefs: [{ name: json, kind: InferencePool }]
---
apiVersion: inference.networking.k8s.io/v1
kind: InferencePool
metadata: { name: json }
spec: { selector: { matchLabels: { pool: json } }, targetPorts: [{ number: 8000 }], endpointPickerRef: { name: infergate, failureMode: FailOpen } }
---
apiVersion: inference.networking.x-k8s.io/v1alpha2
kind: InferenceModel
metadata: { name: llama-json }
spec: { modelName: llama, poolRef: { name: json } }
`,
);
const ANSWER = new TextEncoder().encode(JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'llama', choices: [{ index: 0, message: { role: 'assistant', content: 'Hello! How can I help you today?' }, finish_reason: 'stop' }], usage: { prompt_tokens: 12, completion_tokens: 9, total_tokens: 21 } }));
const headers = { get: (n: string) => (n === 'content-type' ? 'application/json' : null), forEach: (f: (v: string, n: string) => void) => f('application/json', 'content-type') };
const upstream: UpstreamClient = {
  request: async () => ({ status: 200, headers, body: { bytes: async () => ANSWER, stream: () => new ReadableStream(), cancel: () => undefined } }),
};
// The pool's snapshot as the agent keeps it: one object per pool with fresh metrics, made again after each scrape
// (every 50 ms here), not on every request as the tests' double does — so the decision scores, as in bench:proxy.
const endpoints = staticEndpoints([{ address: '127.0.0.1', port: 8000, labels: { pool: 'json' }, engine: 'vllm' }]);
const snapshots = new Map<string, PoolSnapshot>();
const METRICS = { waiting: 0, running: 1, kvUsage: 0.1, activeAdapters: [], waitingAdapters: [], maxAdapters: 0, blockSize: 16, totalBlocks: 8192 };
const endpointSource: EndpointSource = {
  ...endpoints,
  snapshot: (pool) => {
    const now = Date.now();
    let s = snapshots.get(pool.name);
    if (!s || now - s.at >= 50) {
      const fresh = endpoints.snapshot(pool);
      s = { ...fresh, at: now, hasMetrics: true, endpoints: fresh.endpoints.map((e) => ({ ...e, metrics: METRICS, scrapedAt: now })) };
      snapshots.set(pool.name, s);
    }
    return s;
  },
};
const { gateway, close } = await assembleGateway(
  { manifests: join(dir, 'manifests.yaml'), endpointSource },
  { files: nodeFiles, loadKernel: () => loadKernelModule(), upstream },
);
const body = new TextEncoder().encode(BENCH_BODY);
const inbound = (): InboundRequest => ({
  headers: new NodeHeaders({ host: '127.0.0.1:19104', 'content-type': 'application/json', 'content-length': String(body.length) }),
  signal: new AbortOnce(),
  search: '',
  body: async () => body,
});
const run = async (n: number) => {
  for (let i = 0; i < n; i++) {
    const a = await gateway.answer('chat', inbound(), '/v1/chat/completions');
    if (a.status !== 200) throw new Error(`status ${a.status}: ${String(a.body)}`);
  }
};
await run(20_000);
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await run(N);
const cpu = process.cpuUsage(cpu0);
console.log(JSON.stringify({ requests: N, wallUsPerRequest: +(((performance.now() - t0) * 1000) / N).toFixed(2), cpuUsPerRequest: +((cpu.user + cpu.system) / N).toFixed(2) }));
await close();

/**
 * Traces and the access log of the gateway on Deno (src/runtime/deno/main.ts
 * as a process): with OTEL_DENO=true, Deno's own OpenTelemetry exports the
 * gateway's spans (made by the core's observer through @opentelemetry/api) to
 * an in-process OTLP/HTTP receiver, under the client's trace id; the pod gets
 * a traceparent of that trace; the access log file gets the request's line.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUsagePod, type UsagePod } from '../usage-pod.ts';
import { startDenoGateway, type Child } from './spawn.ts';

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const PARENT = 'b7ad6b7169203331';

interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
}

let pod: UsagePod;
let receiver: http.Server;
const bodies: string[] = [];
let deno: Child;
let url: string;
let logFile: string;

beforeAll(async () => {
  pod = await startUsagePod();
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      bodies.push(body);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const dir = mkdtempSync(join(tmpdir(), 'infergate-deno-obs-'));
  logFile = join(dir, 'access.log');
  writeFileSync(join(dir, 'endpoints.json'), JSON.stringify({ endpoints: [{ address: '127.0.0.1', port: pod.port, labels: { pool: 'chat' }, engine: 'vllm' }] }));
  writeFileSync(
    join(dir, 'manifests.yaml'),
    `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: all }
spec:
  rules:
  - backendRefs: [{ name: chat, kind: InferencePool }]
---
apiVersion: inference.networking.k8s.io/v1
kind: InferencePool
metadata: { name: chat }
spec: { selector: { matchLabels: { pool: chat } }, targetPorts: [{ number: ${pod.port} }] }
---
apiVersion: inference.networking.x-k8s.io/v1alpha2
kind: InferenceModel
metadata: { name: chatbot }
spec: { modelName: chatbot, poolRef: { name: chat } }
`,
  );
  ({ child: deno, url } = await startDenoGateway(dir, ['--access-log', logFile], {
    OTEL_DENO: 'true',
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_SERVICE_NAME: 'infergate-deno',
  }));
}, 40_000);

afterAll(async () => {
  await deno?.stop();
  await pod?.close();
  await new Promise((r) => receiver?.close(r));
});

describe('the gateway on Deno', () => {
  it('exports its spans under the client’s trace, passes the trace to the pod, and logs the request', async () => {
    // One traced request, once the pod's metrics are in (the trace id is the client's: one request must carry it).
    for (let i = 0; i < 100 && (await fetch(`${url}/readyz`)).status !== 200; i++) await new Promise((r) => setTimeout(r, 50));
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${TRACE}-${PARENT}-01` },
      body: JSON.stringify({ model: 'chatbot', messages: [{ role: 'user', content: 'hello from deno' }] }),
    });
    expect(res.status).toBe(200);
    await res.text();
    let spans: Span[] = [];
    for (let i = 0; i < 100 && !spans.some((s) => s.name === 'POST /v1/chat/completions'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      spans = bodies.flatMap((b) => (JSON.parse(b) as { resourceSpans?: { scopeSpans: { spans: Span[] }[] }[] }).resourceSpans ?? []).flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
    }
    const server = spans.find((s) => s.name === 'POST /v1/chat/completions' && s.traceId === TRACE);
    expect(server?.parentSpanId).toBe(PARENT);
    const upstream = spans.find((s) => s.name === 'chat chatbot' && s.traceId === TRACE);
    expect(upstream?.parentSpanId).toBe(server!.spanId);
    // The pods are reached with packages/http1's client, which Deno does not trace: the gateway writes the
    // traceparent of one of its spans, so the pod continues the client's trace.
    const sent = pod.received.at(-1)!.headers.traceparent as string;
    expect(sent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    expect(sent.startsWith(`00-${TRACE}-`)).toBe(true);
    expect(spans.some((s) => s.traceId === TRACE && sent === `00-${TRACE}-${s.spanId}-01`)).toBe(true);
    const line = JSON.parse(readFileSync(logFile, 'utf8').trim().split('\n').at(-1)!) as Record<string, unknown>;
    expect(line).toMatchObject({ traceId: TRACE, model: 'chatbot', pool: 'chat', status: 200, inputTokens: 'hello from deno'.length });
  });
});

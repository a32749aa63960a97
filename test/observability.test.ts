/**
 * What operators see, end to end over real sockets: a gateway whose embedded
 * agent scrapes pods with set metrics, known traffic through it (answers with
 * usage, streamed with and without include_usage, shed requests, one with a
 * client's traceparent), then
 * - the admin /metrics, read strictly: counts, token sums from usage, pool
 *   averages equal to the pods' gauges, ready pods, scheduler series;
 * - an in-process OTLP/HTTP receiver (JSON encoding) gets the request's
 *   spans under the client's trace id, and the pod got a traceparent whose
 *   parent is the gateway's upstream span;
 * - the access log file has one JSON line per request with its fields.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../src/runtime/node/gateway.ts';
import { chat, postJson, waitForMetrics, writeEndpointsFile } from './harness.ts';
import { parseStrict } from './prom-strict.ts';
import { CACHED_TOKENS, COMPLETION_TOKENS, startUsagePod, type UsagePod } from './usage-pod.ts';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: { key: string; value: { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number } }[];
  events?: { name: string }[];
}

const CLIENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';

let pods: UsagePod[];
let busy: UsagePod;
let gateway: RunningGateway;
let receiver: http.Server;
const exported: { contentType: string; body: string }[] = [];
let logFile: string;
const prompts: number[] = [];

beforeAll(async () => {
  pods = [await startUsagePod({ waiting: 1, running: 2, kvUsage: 0.2 }), await startUsagePod({ waiting: 3, running: 4, kvUsage: 0.6 })];
  busy = await startUsagePod({ waiting: 10, running: 8, kvUsage: 0.9 });
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      exported.push({ contentType: req.headers['content-type'] ?? '', body });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  logFile = join(mkdtempSync(join(tmpdir(), 'infergate-obs-')), 'access.log');
  const endpoints = writeEndpointsFile([
    ...pods.map((p) => ({ address: '127.0.0.1', port: p.port, labels: { pool: 'chat' }, engine: 'vllm' as const })),
    { address: '127.0.0.1', port: busy.port, labels: { pool: 'busy' }, engine: 'vllm' as const },
  ]);
  gateway = await startGateway({
    port: 0,
    adminPort: 0,
    endpoints,
    scrapeIntervalMs: 20,
    accessLog: logFile,
    log: () => {},
    otelEnv: {
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '50',
      OTEL_SERVICE_NAME: 'infergate-under-test',
    },
  });
  const applied = gateway.store.apply({
    routes: [{ name: 'all', rules: [{ matches: [{ headers: [{ name: 'x-gateway-model-name', value: 'batch' }] }], backendRefs: [{ pool: 'busy' }] }, { backendRefs: [{ pool: 'chat' }] }] }],
    pools: [
      { name: 'chat', selector: { pool: 'chat' }, targetPorts: [8000] },
      { name: 'busy', selector: { pool: 'busy' }, targetPorts: [8000] },
    ],
    models: [
      { name: 'chatbot', pool: 'chat', targetModels: [{ name: 'chatbot-v2' }] },
      { name: 'batch', pool: 'busy', criticality: 'Sheddable' },
    ],
  });
  expect(applied.ok).toBe(true);
  await waitForMetrics(gateway, ['chat', 'busy']);

  const send = async (content: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) => {
    const res = await postJson(`${gateway.url}/v1/chat/completions`, chat('chatbot', content, extra), headers);
    expect(res.status).toBe(200);
    await res.text();
  };
  for (let i = 0; i < 5; i++) {
    const content = 'x'.repeat(100 + i);
    prompts.push(content.length);
    await send(content);
  }
  for (let i = 0; i < 3; i++) {
    const content = 'y'.repeat(120 + i);
    prompts.push(content.length);
    await send(content, { stream: true, stream_options: { include_usage: true } });
  }
  await send('no usage asked for', { stream: true });
  prompts.push('traced'.length);
  await send('traced', { stream: true, stream_options: { include_usage: true } }, { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`, tracestate: 'vendor=1' });
  for (let i = 0; i < 2; i++) expect((await postJson(`${gateway.url}/v1/chat/completions`, chat('batch'))).status).toBe(429);
}, 30_000);

afterAll(async () => {
  await gateway?.close();
  for (const p of [...(pods ?? []), busy]) await p?.close();
  await new Promise((r) => receiver?.close(r));
});

describe('the admin /metrics after known traffic', () => {
  let page: ReturnType<typeof parseStrict>;
  beforeAll(async () => {
    const res = await fetch(`${gateway.adminUrl}/metrics`);
    expect(res.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    page = parseStrict(await res.text());
  });

  it('counts requests and errors with the Inference Extension names and labels', () => {
    const m = { model_name: 'chatbot', target_model_name: 'chatbot-v2' };
    expect(page.value('inference_objective_request_total', { ...m, priority: '0' })).toBe(10);
    expect(page.value('inference_objective_request_total', { model_name: 'batch', target_model_name: 'batch', priority: '-1' })).toBe(2);
    expect(page.value('inference_objective_request_error_total', { model_name: 'batch', error_code: 'InferencePoolResourceExhausted' })).toBe(2);
    expect(page.sum('inference_objective_request_error_total', m)).toBe(0);
    expect(page.value('inference_objective_running_requests', { model_name: 'chatbot' })).toBe(0);
    expect(page.value('inference_objective_request_duration_seconds_count', m)).toBe(10);
    expect(page.value('inference_objective_request_sizes_count', m)).toBe(10);
    expect(page.value('inference_objective_response_sizes_count', m)).toBe(10);
    expect(page.value('infergate_requests_total', { pool: 'chat', model: 'chatbot', code: '200' })).toBe(10);
    expect(page.value('infergate_requests_total', { pool: 'busy', model: 'batch', code: '429' })).toBe(2);
    expect(page.value('infergate_shed_total', { pool: 'busy' })).toBe(2);
    expect(page.value('infergate_time_to_first_token_seconds_count', { pool: 'chat' })).toBe(5);
    expect(page.value('inference_objective_request_ttft_seconds_count', m)).toBe(5);
  });

  it('sums tokens from the answers’ usage, streamed ones too when they asked for it', () => {
    const m = { model_name: 'chatbot', target_model_name: 'chatbot-v2' };
    // 5 JSON answers + 4 streams with include_usage; the stream without it has no usage to count.
    expect(page.value('inference_objective_input_tokens_count', m)).toBe(9);
    expect(page.value('inference_objective_input_tokens_sum', m)).toBe(prompts.reduce((a, b) => a + b, 0));
    expect(page.value('inference_objective_output_tokens_sum', m)).toBe(9 * COMPLETION_TOKENS);
    expect(page.value('inference_objective_prompt_cached_tokens_sum', m)).toBe(9 * CACHED_TOKENS);
    expect(page.value('inference_objective_normalized_time_per_output_token_seconds_count', m)).toBe(9);
  });

  it('gives pool averages equal to the pods’ gauges, and ready pods', () => {
    expect(page.value('inference_pool_average_queue_size', { name: 'chat' })).toBe(2);
    expect(page.value('inference_pool_average_running_requests', { name: 'chat' })).toBe(3);
    expect(page.value('inference_pool_average_kv_cache_utilization', { name: 'chat' })).toBeCloseTo(0.4, 10);
    expect(page.value('inference_pool_ready_pods', { name: 'chat' })).toBe(2);
    expect(page.value('inference_pool_ready_pods', { name: 'busy' })).toBe(1);
    expect(page.value('inference_pool_per_pod_queue_size', { name: 'chat', model_server_pod: pods[1]!.id })).toBe(3);
    expect(page.value('inference_pool_per_pod_queue_size', { name: 'busy', model_server_pod: busy.id })).toBe(10);
  });

  it('has the scheduler’s series, build info and the process’s own', () => {
    expect(page.sum('inference_extension_scheduler_attempts_total', { status: 'success' })).toBe(10);
    expect(page.sum('inference_extension_scheduler_attempts_total', { status: 'failure' })).toBe(2);
    expect(page.value('inference_extension_scheduler_e2e_duration_seconds_count')).toBe(12);
    const points = new Set(page.samples.filter((s) => s.name === 'inference_extension_plugin_duration_seconds_count').map((s) => s.labels.extension_point));
    expect(points).toEqual(new Set(['Filter', 'Producer', 'Scorer', 'Picker']));
    expect(page.value('inference_extension_plugin_duration_seconds_count', { extension_point: 'Scorer', plugin_type: 'queue-scorer' })).toBe(10);
    expect(page.value('inference_extension_prefix_indexer_size')).toBeGreaterThan(0);
    // Prompts of at least one 64-byte block: 8 of the 10 routed ones (the traced and the no-usage ones are shorter).
    expect(page.value('inference_extension_prefix_indexer_hit_ratio_count')).toBe(8);
    expect(page.value('inference_extension_info', { build_ref: 'v0.1.0' })).toBe(1);
    expect(page.types.get('process_cpu_seconds_total')).toBe('counter');
  });
});

describe('traces', () => {
  it('reach an OTLP/HTTP receiver under the client’s trace id, and the pod’s parent is the upstream span', async () => {
    let spans: OtlpSpan[] = [];
    for (let i = 0; i < 100 && !spans.some((s) => s.kind === 2 && s.traceId === CLIENT_TRACE); i++) {
      await new Promise((r) => setTimeout(r, 50));
      spans = exported.flatMap((e) => (JSON.parse(e.body) as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] }).resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)));
    }
    expect(exported[0]!.contentType).toContain('application/json');
    const mine = spans.filter((s) => s.traceId === CLIENT_TRACE);
    const server = mine.find((s) => s.name === 'POST /v1/chat/completions')!;
    expect(server.kind).toBe(2);
    expect(server.parentSpanId).toBe(CLIENT_SPAN);
    const attr = (s: OtlpSpan, key: string) => {
      const v = s.attributes?.find((a) => a.key === key)?.value;
      return v?.stringValue ?? (v?.intValue !== undefined ? Number(v.intValue) : (v?.boolValue ?? v?.doubleValue));
    };
    expect(attr(server, 'gen_ai.request.model')).toBe('chatbot');
    expect(attr(server, 'gen_ai.usage.input_tokens')).toBe('traced'.length);
    expect(attr(server, 'gen_ai.usage.output_tokens')).toBe(COMPLETION_TOKENS);
    expect(attr(server, 'http.response.status_code')).toBe(200);
    const children = mine.filter((s) => s.parentSpanId === server.spanId).map((s) => s.name);
    expect(children).toEqual(expect.arrayContaining(['route', 'schedule', 'chat chatbot-v2']));
    const schedule = mine.find((s) => s.name === 'schedule')!;
    expect(attr(schedule, 'infergate.endpoint')).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(attr(schedule, 'infergate.scheduling.profile')).toBe('default');
    expect(typeof attr(schedule, 'infergate.scheduling.score')).toBe('number');
    const upstream = mine.find((s) => s.name === 'chat chatbot-v2')!;
    expect(upstream.kind).toBe(3);
    expect(attr(upstream, 'gen_ai.request.model')).toBe('chatbot-v2');
    expect(attr(upstream, 'infergate.upstream.client')).toBe('http1');
    expect(upstream.events?.map((e) => e.name)).toContain('first_token');

    const atPod = [...pods].flatMap((p) => p.received).find((r) => String(r.headers.traceparent ?? '').includes(CLIENT_TRACE))!;
    expect(atPod.headers.traceparent).toBe(`00-${CLIENT_TRACE}-${upstream.spanId}-01`);
    expect(atPod.headers.tracestate).toBe('vendor=1');
    const resource = (JSON.parse(exported[0]!.body) as { resourceSpans: { resource: { attributes: { key: string; value: { stringValue?: string } }[] } }[] }).resourceSpans[0]!.resource;
    expect(resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue).toBe('infergate-under-test');
  });
});

describe('the access log', () => {
  it('has one JSON line per request with the request’s facts', async () => {
    let lines: Record<string, unknown>[] = [];
    for (let i = 0; i < 50 && lines.length < 12; i++) {
      await new Promise((r) => setTimeout(r, 20));
      lines = readFileSync(logFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    }
    expect(lines).toHaveLength(12);
    const traced = lines.find((l) => l.traceId === CLIENT_TRACE)!;
    expect(traced).toMatchObject({ method: 'POST', path: '/v1/chat/completions', model: 'chatbot', targetModel: 'chatbot-v2', pool: 'chat', status: 200, outcome: 'served', stream: true, inputTokens: 6, outputTokens: COMPLETION_TOKENS, cachedTokens: CACHED_TOKENS, retries: 0 });
    expect(traced.endpoint).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(traced.ttftMs).toBeGreaterThan(0);
    expect(traced.durationMs).toBeGreaterThanOrEqual(traced.ttftMs as number);
    expect(typeof traced.requestId).toBe('string');
    const shed = lines.filter((l) => l.outcome === 'shed');
    expect(shed).toHaveLength(2);
    expect(shed[0]).toMatchObject({ status: 429, model: 'batch', pool: 'busy', priority: -1 });
    expect(String(shed[0]!.reason)).toContain('saturated');
    expect(shed[0]!.endpoint).toBeUndefined();
  });
});

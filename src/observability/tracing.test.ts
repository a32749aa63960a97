import { SpanStatusCode } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { testEndpoint, testPool } from '../gateway/observer-testing.ts';
import { ObserverHub } from '../proxy/observer.ts';
import type { Resolution } from '../routing/resolve.ts';
import { tracingObserver } from './tracing.ts';

function traced() {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const hub = new ObserverHub([tracingObserver({ tracer: provider.getTracer('test'), propagator: new W3CTraceContextPropagator(), upstreamClient: 'test' })]);
  return {
    hub,
    spans: async () => {
      await provider.forceFlush();
      return exporter.getFinishedSpans();
    },
  };
}

const route = (path: string) => ({ pool: testPool('p'), requestedModel: 'bot', targetModel: 'bot', criticality: 'Standard', priority: 0, matchedPath: path }) as unknown as Resolution;

describe('the tracing observer', () => {
  it('marks the attempt whose stream broke off an Error `broken` when another endpoint continues it', async () => {
    const { hub, spans } = traced();
    const r = hub.open('chat', '/v1/chat/completions', 'id', new Headers(), 0);
    hub.resolved(r, route('/'));
    hub.decided(r, { kind: 'route', endpoint: testEndpoint(8001), fallbacks: [] });
    hub.attempt(r, testEndpoint(8001), {});
    r.status = 200;
    hub.responded(r, testEndpoint(8001));
    hub.attempt(r, testEndpoint(8002), {});
    hub.finished(r);
    const [broken, continued] = (await spans()).filter((s) => s.name === 'chat bot');
    expect(broken!.attributes).toMatchObject({ 'error.type': 'broken', 'server.port': 8001 });
    expect(broken!.status.code).toBe(SpanStatusCode.ERROR);
    expect(continued!.attributes['error.type']).toBeUndefined();
  });

  it('names a method outside HTTP’s known set `_OTHER` (span `HTTP {route}`), keeping the original', async () => {
    const { hub, spans } = traced();
    const r = hub.open('other', '/dav/x', 'id', new Headers(), 0, 'PROPFIND');
    hub.resolved(r, route('/dav'));
    hub.finished(r);
    const server = (await spans()).find((s) => s.name === 'HTTP /dav')!;
    expect(server.attributes).toMatchObject({ 'http.request.method': '_OTHER', 'http.request.method_original': 'PROPFIND', 'http.route': '/dav' });
  });
});

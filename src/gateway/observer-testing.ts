/**
 * For tests of request observers: one request's lifecycle played through an
 * ObserverHub on a clock the test sets, as the director and the proxy would
 * call it — resolved, decided, attempts (refused ones first), the answer,
 * the first token, the end.
 */
import type { Endpoint } from '../endpoints/types.ts';
import { ObserverHub, type ObservedRequest, type RequestObserver, type TokenUsage } from '../proxy/observer.ts';
import type { Resolution } from '../routing/resolve.ts';
import type { Pool } from '../routing/schema.ts';

export interface PlayedRequest {
  pool: string;
  model: string;
  target?: string;
  priority?: number;
  /** What the scheduler decided (default: route). */
  decision?: 'route' | 'shed' | 'unavailable';
  /** Status answered (default 200; 429 / 503 for shed / unavailable). */
  status?: number;
  /** Endpoints that refused before the one that answered. */
  refused?: number;
  seconds?: number;
  ttftSeconds?: number;
  usage?: TokenUsage;
  requestBytes?: number;
  responseBytes?: number;
  stream?: boolean;
  endpoint?: Endpoint;
  headers?: Record<string, string>;
}

export const testEndpoint = (port = 8000, address = '10.0.0.1'): Endpoint => ({ id: `${address}:${port}`, address, port, labels: {}, ready: true, engine: 'vllm' });

export const testPool = (name: string): Pool => ({ name, selector: { pool: name }, targetPorts: [8000], appProtocol: 'http', failureMode: 'FailClose' });

/** Play one request through `observers`; returns its record. */
export function playRequest(observers: readonly RequestObserver[], p: PlayedRequest): ObservedRequest {
  let now = 0;
  const hub = new ObserverHub(observers, () => now);
  const r = hub.open('chat', '/v1/chat/completions', `req-${Math.random().toString(36).slice(2)}`, new Headers(p.headers ?? {}), 1_800_000_000_000);
  const pool = testPool(p.pool);
  const route = { pool, model: { name: p.model }, requestedModel: p.model, targetModel: p.target ?? p.model, criticality: 'Standard', priority: p.priority ?? 0 } as unknown as Resolution;
  now += 0.5;
  hub.resolved(r, route, { bytes: p.requestBytes ?? 100, stream: p.stream ?? false });
  now += 0.1;
  const endpoint = p.endpoint ?? testEndpoint();
  const kind = p.decision ?? 'route';
  if (kind === 'route') hub.decided(r, { kind: 'route', endpoint, fallbacks: [] });
  else hub.decided(r, { kind, reason: `${kind} in a test`, retryAfterSeconds: 1 } as never);
  if (kind === 'route') {
    for (let i = 0; i < (p.refused ?? 0); i++) {
      const other = testEndpoint(9000 + i);
      hub.attempt(r, other, {});
      hub.attemptFailed(r, other, 'connect');
      hub.retried(r, other, 'connect-failure');
    }
    hub.attempt(r, endpoint, {});
    r.status = p.status ?? 200;
    hub.responded(r, endpoint);
    if (p.ttftSeconds !== undefined) {
      now = p.ttftSeconds * 1000;
      hub.firstToken(r);
    }
    r.responseBytes = p.responseBytes ?? 200;
    r.usage = p.usage;
  } else {
    r.status = p.status ?? (kind === 'shed' ? 429 : 503);
  }
  now = (p.seconds ?? 0.01) * 1000;
  hub.finished(r);
  return r;
}

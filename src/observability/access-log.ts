/**
 * The access log: one JSON object per request, written when the request is
 * over (a streamed answer: when its last byte went out). Where the lines go
 * is the runtime's business (`write`: stdout or a file, batched, in
 * src/runtime/node/access-log-sink.ts); this decides what a line says and
 * which lines are written. Under load it can sample: `sample` keeps that
 * share of the requests that went well, and `maxPerSecond` caps the lines
 * of any kind, the next line written saying how many were skipped. A request
 * that failed (5xx, shed, no endpoint, the upstream gone) is always logged,
 * within the cap.
 */
import type { ObservedRequest, RequestObserver } from '../proxy/observer.ts';
import { MODEL_HEADER } from '../routing/resolve.ts';

export interface AccessLogOptions {
  /** Takes one line (no trailing newline). */
  write: (line: string) => void;
  /** Share of successful requests logged, 0..1 (default 1: all). */
  sample?: number;
  /** At most this many lines a second (default: no cap). */
  maxPerSecond?: number;
  random?: () => number;
  /** Wall clock, ms since epoch. */
  now?: () => number;
}

/** The fields of one line, in the order they are written. Absent fields are left out. */
export interface AccessLogLine {
  time: string;
  requestId: string;
  traceId?: string;
  /** The request's method (POST for the OpenAI API; an HTTPRoute's own path may take any). */
  method: string;
  path: string;
  /** The model the client asked for (header or body), also when it did not resolve (a 404, a 400). */
  model?: string;
  /** The model sent upstream when it differs (an adapter, a canary). */
  targetModel?: string;
  objective?: string;
  priority?: number;
  /** Who asked (API key's tenant, or the trusted tenant header). */
  tenant?: string;
  pool?: string;
  endpoint?: string;
  status: number;
  /** served, shed, unavailable, rejected (4xx before any endpoint), upstream_failed, client_gone, error. */
  outcome: string;
  /** Why it was shed, found no endpoint, or waited in flow control. */
  reason?: string;
  errorCode?: string;
  stream: boolean;
  ttftMs?: number;
  durationMs: number;
  /** Time it waited in flow control. */
  queuedMs?: number;
  inputTokens?: number;
  outputTokens?: number;
  cachedTokens?: number;
  /** What the tenant's token budget was finally charged (its usage, or its reservation when the answer carried none). */
  chargedTokens?: number;
  /** Endpoints tried after the first. */
  retries: number;
  requestBytes: number;
  responseBytes: number;
  /** Lines left out since the previous line because of `maxPerSecond`. */
  skipped?: number;
}

export function accessLogLine(r: ObservedRequest, nowMs: number): AccessLogLine {
  const line: AccessLogLine = { time: new Date(nowMs).toISOString(), requestId: r.requestId, method: r.method, path: r.path, status: r.status, outcome: r.end ?? 'served', stream: r.stream, durationMs: ms(r.finishedAt - r.receivedAt), retries: Math.max(0, r.attempts - 1), requestBytes: r.requestBytes, responseBytes: r.responseBytes };
  const traceId = r.traceId ?? traceIdOf(r.headers.get('traceparent'));
  if (traceId) line.traceId = traceId;
  const model = r.model ?? askedModel(r);
  if (model !== undefined) line.model = model;
  if (r.targetModel !== undefined && r.targetModel !== r.model) line.targetModel = r.targetModel;
  if (r.objective) line.objective = r.objective;
  if (r.priority !== undefined) line.priority = r.priority;
  if (r.tenant !== undefined) line.tenant = r.tenant;
  if (r.pool) line.pool = r.pool.name;
  if (r.endpoint && r.attempts > 0) line.endpoint = r.endpoint.id;
  const reason = r.decisionReason ?? r.queuedReason;
  if (reason) line.reason = reason;
  if (r.errorCode) line.errorCode = r.errorCode;
  if (r.firstTokenAt) line.ttftMs = ms(r.firstTokenAt - r.receivedAt);
  if (r.queuedAt) line.queuedMs = ms((r.decidedAt || r.finishedAt) - r.queuedAt);
  if (r.usage) {
    line.inputTokens = r.usage.input;
    line.outputTokens = r.usage.output;
    if (r.usage.cached !== undefined) line.cachedTokens = r.usage.cached;
  }
  if (r.chargedTokens !== undefined) line.chargedTokens = r.chargedTokens;
  return line;
}

export function accessLog(options: AccessLogOptions): RequestObserver {
  const sample = Math.min(1, Math.max(0, options.sample ?? 1));
  const cap = options.maxPerSecond;
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  let second = 0;
  let written = 0;
  let skipped = 0;
  return {
    finished(r) {
      const failed = r.status === 0 || r.status >= 500 || (r.end !== 'served' && r.end !== 'rejected');
      if (!failed && sample < 1 && random() >= sample) return;
      const at = now();
      if (cap !== undefined) {
        const s = Math.floor(at / 1000);
        if (s !== second) {
          second = s;
          written = 0;
        }
        if (written >= cap) {
          skipped++;
          return;
        }
        written++;
      }
      const line = accessLogLine(r, at);
      if (skipped) {
        line.skipped = skipped;
        skipped = 0;
      }
      options.write(JSON.stringify(line));
    },
  };
}

/** The model a request that never resolved asked for: its header's, else its body's (as resolution reads them). */
function askedModel(r: ObservedRequest): string | undefined {
  return r.headers.get(MODEL_HEADER) || (typeof r.bodyModel === 'string' ? r.bodyModel : undefined);
}

function ms(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** The trace id of a W3C traceparent (`00-<trace id>-<parent id>-<flags>`), if it is one. */
export function traceIdOf(traceparent: string | null): string | undefined {
  if (!traceparent || traceparent.length < 55) return undefined;
  const id = traceparent.slice(3, 35);
  return traceparent[2] === '-' && /^[0-9a-f]{32}$/.test(id) && id !== '00000000000000000000000000000000' ? id : undefined;
}

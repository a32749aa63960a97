/**
 * The request headers llm-d and the Inference Extension define for clients
 * (llm-d's pkg/epp/metadata/consts.go; when both the current and the old
 * name are sent, the current one wins), read once, at the edge.
 */
import type { InboundHeaders } from '../http/inbound.ts';
import { badRequest } from './errors.ts';

/** Flow control's fairness key; the flow `default-flow` when none. */
export const FAIRNESS_HEADERS = ['x-llm-d-inference-fairness-id', 'x-gateway-inference-fairness-id'] as const;
/** A request's own flow-control queue TTL. */
export const TTL_HEADER = 'x-llm-d-inference-ttl';
/** Time-to-first-token objective, ms (the old name still read). */
export const SLO_TTFT_HEADERS = ['x-llm-d-slo-ttft-ms', 'x-slo-ttft-ms'] as const;
/** Set on the answer: how long the request waited in flow control, ms. */
export const QUEUE_DURATION_HEADER = 'x-llm-d-flow-queue-duration-ms';

export interface FlowHeaders {
  fairnessId?: string;
  ttlMs?: number;
  sloTtftMs?: number;
}

function first(headers: InboundHeaders, names: readonly string[]): string | undefined {
  for (const n of names) {
    const v = headers.get(n);
    if (v !== null && v.trim() !== '') return v.trim();
  }
  return undefined;
}

/** A duration as ms: `250` (ms), or Go-style `250ms`, `30s`, `1.5m`. */
function duration(value: string, header: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value);
  if (!m) throw badRequest(`The ${header} header must be a duration like 500ms, 30s or 1m, or a number of ms; got "${value.slice(0, 40)}".`, 'invalid_header', header);
  const n = Number(m[1]);
  return m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n;
}

export function readFlowHeaders(headers: InboundHeaders): FlowHeaders {
  const out: FlowHeaders = {};
  const fairness = first(headers, FAIRNESS_HEADERS);
  if (fairness !== undefined) {
    if (fairness.length > 256) throw badRequest(`The ${FAIRNESS_HEADERS[0]} header is longer than 256 characters.`, 'invalid_header', FAIRNESS_HEADERS[0]);
    out.fairnessId = fairness;
  }
  const ttl = headers.get(TTL_HEADER);
  if (ttl !== null && ttl.trim() !== '') out.ttlMs = duration(ttl.trim(), TTL_HEADER);
  const slo = first(headers, SLO_TTFT_HEADERS);
  if (slo !== undefined) out.sloTtftMs = duration(slo, SLO_TTFT_HEADERS[0]);
  return out;
}

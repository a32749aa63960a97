import type { InboundHeaders } from '../http/inbound.ts';
import type { UpstreamHeaders } from '../http/upstream.ts';

/** Header handling at the proxy: hop-by-hop headers never cross it (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Headers to send upstream: the client's, minus hop-by-hop, host and length
 * (recomputed); the client's address appended to X-Forwarded-For (a client's
 * own X-Forwarded-For is kept in front, as proxies chain it). An answer the
 * gateway reads (`readsAnswer`: its usage, or the model name it restores) is
 * asked for uncompressed, whatever the client accepts.
 */
export function upstreamRequestHeaders(incoming: InboundHeaders, requestId: string, clientAddress: string | undefined, readsAnswer: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  const listed = connectionListed(incoming);
  incoming.forEach((value, name) => {
    if (HOP_BY_HOP.has(name) || name === 'host' || name === 'content-length' || listed?.has(name)) return;
    out[name] = value;
  });
  out['x-request-id'] = requestId;
  if (readsAnswer) out['accept-encoding'] = 'identity';
  if (!out['content-type']) out['content-type'] = 'application/json';
  if (clientAddress) out['x-forwarded-for'] = out['x-forwarded-for'] ? `${out['x-forwarded-for']}, ${clientAddress}` : clientAddress;
  return out;
}

/** Headers to send the client: the upstream's, minus hop-by-hop, length and date (the server sets those). */
export function clientResponseHeaders(upstream: UpstreamHeaders, bodyChanged: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  const listed = connectionListed(upstream);
  upstream.forEach((value, name) => {
    if (HOP_BY_HOP.has(name) || listed?.has(name) || name === 'content-length' || name === 'date') return;
    if (bodyChanged && name === 'content-encoding') return;
    out[name] = value;
  });
  return out;
}

function connectionListed(headers: { get(name: string): string | null }): Set<string> | undefined {
  const value = headers.get('connection');
  if (!value) return undefined;
  return new Set(value.split(',').map((s) => s.trim().toLowerCase()));
}

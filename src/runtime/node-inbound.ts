/**
 * Read a client request straight from Node's IncomingMessage: no web Request,
 * body ReadableStream or Headers object is built per request (on the hot
 * path these cost more than the routing itself).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'hono';
import { payloadTooLarge } from '../api/errors.ts';
import { concat, inboundFromRequest, type InboundHeaders, type InboundRequest } from '../gateway/inbound.ts';

class NodeHeaders implements InboundHeaders {
  constructor(private readonly raw: IncomingMessage['headers']) {}
  get(name: string): string | null {
    const v = this.raw[name];
    return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
  }
  forEach(callback: (value: string, name: string) => void): void {
    for (const name in this.raw) {
      const v = this.raw[name];
      if (v !== undefined) callback(Array.isArray(v) ? v.join(', ') : v, name);
    }
  }
}

export function inboundFromNode(c: Context): InboundRequest {
  const env = c.env as { incoming?: IncomingMessage; outgoing?: ServerResponse } | undefined;
  const incoming = env?.incoming;
  const outgoing = env?.outgoing;
  if (!incoming || !outgoing) return inboundFromRequest(c.req.raw);
  const controller = new AbortController();
  outgoing.once('close', () => {
    if (!outgoing.writableFinished) controller.abort(new Error('client disconnected'));
  });
  return {
    headers: new NodeHeaders(incoming.headers),
    signal: controller.signal,
    body: (limit) => readIncoming(incoming, limit),
  };
}

function readIncoming(incoming: IncomingMessage, limit: number): Promise<Uint8Array> {
  const declared = incoming.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    incoming.resume();
    return Promise.reject(payloadTooLarge(limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    incoming.on('data', (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > limit) {
        incoming.removeAllListeners('data');
        incoming.resume();
        reject(payloadTooLarge(limit));
        return;
      }
      chunks.push(chunk);
    });
    incoming.once('end', () => resolve(concat(chunks, size)));
    incoming.once('error', reject);
  });
}

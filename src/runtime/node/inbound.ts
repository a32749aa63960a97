/**
 * Read a client request straight from Node's IncomingMessage: no web Request,
 * body ReadableStream or Headers object is built per request (on the hot
 * path these cost more than the routing itself).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { payloadTooLarge } from '../../api/errors.ts';
import { concat, type InboundRequest } from '../../http/inbound.ts';
import { NodeHeaders } from '../../../packages/http1/src/headers.ts';

export function inboundFromNode(incoming: IncomingMessage, outgoing: ServerResponse): InboundRequest {
  const controller = new AbortController();
  outgoing.once('close', () => {
    if (!outgoing.writableFinished) controller.abort(new Error('client disconnected'));
  });
  const url = incoming.url ?? '';
  const q = url.indexOf('?');
  return {
    headers: new NodeHeaders(incoming.headers),
    signal: controller.signal,
    search: q >= 0 ? url.slice(q) : '',
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

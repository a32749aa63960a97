/**
 * The Node upstream client: node:http with a keep-alive agent (per request it
 * costs less CPU than undici's Pool or the global fetch on this path), the
 * response read without building web objects unless the answer streams.
 */
import { Agent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { UpstreamError, type UpstreamBody, type UpstreamClient, type UpstreamRequest, type UpstreamResponse } from '../proxy/upstream.ts';
import { NodeHeaders } from './node-headers.ts';

export class NodeUpstream implements UpstreamClient {
  readonly #agent: Agent;

  constructor(maxSockets = 512) {
    this.#agent = new Agent({ keepAlive: true, keepAliveMsecs: 30_000, maxSockets, maxFreeSockets: maxSockets, scheduling: 'lifo', timeout: 120_000 });
  }

  async request(req: UpstreamRequest): Promise<UpstreamResponse> {
    if (req.signal.aborted) throw new UpstreamError('aborted', 'the client went away');
    try {
      return await this.#send(req);
    } catch (err) {
      // A kept-alive socket the server had just closed: not the endpoint's fault; once more on a new one.
      if (err instanceof StaleSocketError) return this.#send(req);
      throw err;
    }
  }

  #send(req: UpstreamRequest): Promise<UpstreamResponse> {
    const url = new URL(req.origin);
    return new Promise<UpstreamResponse>((resolve, reject) => {
      let settled = false;
      const headers: Record<string, string | number> = { ...req.headers, 'content-length': req.body.byteLength };
      const out: ClientRequest = httpRequest({
        host: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port,
        method: req.method,
        path: req.path,
        headers,
        agent: this.#agent,
      });
      const timer = setTimeout(() => fail(new UpstreamError('timeout', `no response within ${req.headersTimeoutMs} ms`)), req.headersTimeoutMs);
      const onAbort = () => fail(new UpstreamError('aborted', 'the client went away'));
      req.signal.addEventListener('abort', onAbort, { once: true });
      function fail(err: Error): void {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.signal.removeEventListener('abort', onAbort);
        out.destroy();
        reject(err);
      }
      out.once('error', (err: NodeJS.ErrnoException) => {
        if (settled) return;
        if (out.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) fail(new StaleSocketError(err.message));
        else fail(new UpstreamError('connect', err.code ?? err.message));
      });
      out.once('response', (res: IncomingMessage) => {
        if (settled) {
          res.destroy();
          return;
        }
        settled = true;
        clearTimeout(timer);
        // From here the client going away cancels the body (see the body's cancel), not the request.
        req.signal.removeEventListener('abort', onAbort);
        const noBody = res.statusCode === 204 || res.statusCode === 304;
        if (noBody) res.resume();
        resolve({ status: res.statusCode ?? 502, headers: new NodeHeaders(res.headers), body: noBody ? null : nodeBody(res, req.signal) });
      });
      out.end(req.body);
    });
  }

  async close(): Promise<void> {
    this.#agent.destroy();
  }
}

class StaleSocketError extends Error {}

function nodeBody(body: Readable, signal: AbortSignal): UpstreamBody {
  const onAbort = () => body.destroy();
  signal.addEventListener('abort', onAbort, { once: true });
  body.once('close', () => signal.removeEventListener('abort', onAbort));
  return {
    bytes: () =>
      new Promise<Uint8Array>((resolve, reject) => {
        const chunks: Buffer[] = [];
        let size = 0;
        body.on('data', (c: Buffer) => {
          chunks.push(c);
          size += c.byteLength;
        });
        body.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
        body.once('error', reject);
        body.once('close', () => {
          if (!body.readableEnded) reject(new Error('the upstream closed the connection mid-answer'));
        });
      }),
    stream: (onEnd, onFirst) => toWebStream(body, onEnd, onFirst),
    cancel: () => void body.destroy(),
  };
}

/** A Node Readable as a web ReadableStream, with backpressure, without copying chunks. */
function toWebStream(body: Readable, onEnd: () => void, onFirst?: () => void): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        if (onFirst) body.once('data', onFirst);
        body.on('data', (chunk: Buffer) => {
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          if ((controller.desiredSize ?? 1) <= 0) body.pause();
        });
        body.once('end', () => {
          onEnd();
          try {
            controller.close();
          } catch {
            // Already cancelled by the reader: nothing left to close.
          }
        });
        body.once('close', () => {
          onEnd();
          if (body.readableEnded) return;
          try {
            controller.error(new Error('the upstream closed the connection mid-answer'));
          } catch {
            // Already closed or cancelled: the error has nobody to reach.
          }
        });
      },
      pull() {
        body.resume();
      },
      cancel() {
        onEnd();
        body.destroy();
      },
    },
    { highWaterMark: 16 },
  );
}

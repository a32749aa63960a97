/**
 * The Node upstream client: one keep-alive undici Pool per endpoint. A pooled
 * `request` costs about a third of the global `fetch` per call (DESIGN.md,
 * performance reference points).
 */
import { Pool, errors } from 'undici';
import type { Readable } from 'node:stream';
import { UpstreamError, type UpstreamBody, type UpstreamClient, type UpstreamRequest, type UpstreamResponse } from '../proxy/upstream.ts';

export class NodeUpstream implements UpstreamClient {
  readonly #pools = new Map<string, Pool>();

  constructor(private readonly connections = 256) {}

  async request(req: UpstreamRequest): Promise<UpstreamResponse> {
    let pool = this.#pools.get(req.origin);
    if (!pool) {
      pool = new Pool(req.origin, { connections: this.connections, pipelining: 1, keepAliveTimeout: 30_000, connectTimeout: 5_000 });
      this.#pools.set(req.origin, pool);
    }
    if (req.signal.aborted) throw new UpstreamError('aborted', 'the client went away');
    try {
      const res = await pool.request({
        method: req.method as 'POST',
        path: req.path,
        headers: req.headers,
        body: req.body.byteLength ? req.body : undefined,
        signal: req.signal,
        headersTimeout: req.headersTimeoutMs,
        bodyTimeout: 0,
      });
      const headers = new Headers();
      for (const [name, value] of Object.entries(res.headers)) {
        if (value === undefined) continue;
        if (Array.isArray(value)) for (const v of value) headers.append(name, v);
        else headers.set(name, value);
      }
      const noBody = res.statusCode === 204 || res.statusCode === 304;
      return { status: res.statusCode, headers, body: noBody ? (res.body.destroy(), null) : nodeBody(res.body) };
    } catch (err) {
      if (err instanceof errors.HeadersTimeoutError) throw new UpstreamError('timeout', `no response within ${req.headersTimeoutMs} ms`);
      if (req.signal.aborted || err instanceof errors.RequestAbortedError) throw new UpstreamError('aborted', 'the client went away');
      const code = (err as { code?: string }).code;
      throw new UpstreamError('connect', code ?? (err as Error).message);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.#pools.values()].map((p) => p.destroy()));
    this.#pools.clear();
  }
}

function nodeBody(body: Readable): UpstreamBody {
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
        body.once('error', (err) => {
          onEnd();
          try {
            controller.error(err);
          } catch {
            // Already closed or cancelled: the error has nobody to reach.
          }
        });
        body.once('close', onEnd);
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

/**
 * A model server stand-in whose every byte the test controls: it records what
 * it received and streams SSE chunks only when the test releases them. Used
 * where the simulator's realism is not the point but wire-level behaviour is
 * (unbuffered streaming, aborts, what exactly reached upstream).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WireUpstream {
  port: number;
  received: { path: string; headers: http.IncomingHttpHeaders; body: Record<string, unknown> }[];
  /** Send the next SSE chunk of the current stream. */
  release(): void;
  /** Resolves when the upstream saw its client connection close. */
  closed: Promise<void>;
  close(): Promise<void>;
}

export async function startWireUpstream(): Promise<WireUpstream> {
  const received: WireUpstream['received'] = [];
  let releaseNext: () => void = () => undefined;
  let markClosed!: () => void;
  const closed = new Promise<void>((r) => (markClosed = r));
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const body = JSON.parse(raw) as Record<string, unknown>;
      received.push({ path: req.url ?? '', headers: req.headers, body });
      const model = String(body.model);
      if (!body.stream) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 'cmpl-1', object: 'chat.completion', created: 1, model, choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }] }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.on('close', () => markClosed());
      let n = 0;
      const chunk = () =>
        res.write(`data: {"id":"cmpl-1","object":"chat.completion.chunk","created":1,"model":${JSON.stringify(model)},"choices":[{"index":0,"delta":{"content":"t${n++}"}}]}\n\n`);
      chunk();
      releaseNext = () => {
        if (n < 3) chunk();
        else res.end('data: [DONE]\n\n');
      };
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    received,
    release: () => releaseNext(),
    closed,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

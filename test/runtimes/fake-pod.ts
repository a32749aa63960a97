/**
 * A model-server stand-in whose metrics page and bytes the test controls:
 * it publishes vLLM metric names (waiting, running, KV use) set by the test,
 * records what it received, answers chat/completions with the model it was
 * sent, streams SSE one chunk at a time as the test releases them (a prompt
 * containing "break-me" gets one chunk, then the connection is reset, unless
 * it is a gateway's continuation), or — as a "refuser" — resets every
 * inference connection while its metrics stay up.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakePod {
  port: number;
  id: string;
  received: { path: string; headers: http.IncomingHttpHeaders; body: Record<string, unknown> }[];
  metrics: { waiting: number; running: number; kvUsage: number };
  /** Send the next SSE chunk of the streams waiting for one (three chunks, then [DONE]). */
  release(): void;
  close(): Promise<void>;
}

export async function startFakePod(options: { refuse?: boolean } = {}): Promise<FakePod> {
  const received: FakePod['received'] = [];
  const metrics = { waiting: 0, running: 0, kvUsage: 0 };
  let waiting: (() => void)[] = [];
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(
        `# TYPE vllm:num_requests_waiting gauge\nvllm:num_requests_waiting{model_name="m"} ${metrics.waiting}\n` +
          `# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{model_name="m"} ${metrics.running}\n` +
          `# TYPE vllm:kv_cache_usage_perc gauge\nvllm:kv_cache_usage_perc{model_name="m"} ${metrics.kvUsage}\n`,
      );
      return;
    }
    if (options.refuse) {
      req.socket.destroy();
      return;
    }
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const body = JSON.parse(raw || '{}') as Record<string, unknown>;
      received.push({ path: req.url ?? '', headers: req.headers, body });
      const model = String(body.model);
      if (!body.stream) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 'cmpl-1', object: 'chat.completion', created: 1, model, choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }] }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      let n = 0;
      if (JSON.stringify(body.messages ?? '').includes('break-me') && body.continue_final_message !== true) {
        res.write(`data: {"id":"cmpl-1","object":"chat.completion.chunk","created":1,"model":${JSON.stringify(model)},"choices":[{"index":0,"delta":{"content":"b0"}}]}\n\n`, () => setTimeout(() => req.socket.destroy(), 20));
        return;
      }
      const chunk = () => res.write(`data: {"id":"cmpl-1","object":"chat.completion.chunk","created":1,"model":${JSON.stringify(model)},"choices":[{"index":0,"delta":{"content":"t${n++}"}}]}\n\n`);
      chunk();
      const next = () => {
        if (n < 3) {
          chunk();
          waiting.push(next);
        } else res.end('data: [DONE]\n\n');
      };
      waiting.push(next);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    id: `127.0.0.1:${port}`,
    received,
    metrics,
    release() {
      const now = waiting;
      waiting = [];
      for (const w of now) w();
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

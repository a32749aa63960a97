/**
 * A model-server double for the observability tests, speaking vLLM's wire
 * shapes over real HTTP: a Prometheus page with vLLM's gauge names whose
 * values the test sets, and chat completions whose answers carry OpenAI
 * `usage` — in the JSON body, or, streamed, as vLLM sends it when the request
 * asks `stream_options.include_usage`: every chunk with `"usage":null`, then a
 * chunk with `choices: []` and the usage, then `data: [DONE]`. Token counts
 * are the test's: prompt = characters of the last message, completion = 7,
 * cached = 4. It records each request's headers (traceparent) and HTTP
 * version. With `h2c` it speaks only HTTP/2 cleartext (prior knowledge), as a
 * pod behind a Service port with `appProtocol: kubernetes.io/h2c` does.
 */
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';

export interface UsagePod {
  port: number;
  id: string;
  metrics: { waiting: number; running: number; kvUsage: number };
  received: { headers: http.IncomingHttpHeaders; httpVersion: string; body: Record<string, unknown> }[];
  /** Requests of any kind (the agent's scrapes too), by HTTP version. */
  versions: string[];
  close(): Promise<void>;
}

export const COMPLETION_TOKENS = 7;
export const CACHED_TOKENS = 4;

export function promptTokens(body: Record<string, unknown>): number {
  const messages = body.messages as { content: string }[];
  return messages.at(-1)!.content.length;
}

export async function startUsagePod(metrics = { waiting: 0, running: 0, kvUsage: 0 }, options: { h2c?: boolean } = {}): Promise<UsagePod> {
  const received: UsagePod['received'] = [];
  const versions: string[] = [];
  const handle = (req: http.IncomingMessage, res: http.ServerResponse) => {
    versions.push(req.httpVersion);
    if (req.method === 'GET' && req.url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(
        `# TYPE vllm:num_requests_waiting gauge\nvllm:num_requests_waiting{model_name="m"} ${metrics.waiting}\n` +
          `# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{model_name="m"} ${metrics.running}\n` +
          `# TYPE vllm:kv_cache_usage_perc gauge\nvllm:kv_cache_usage_perc{model_name="m"} ${metrics.kvUsage}\n`,
      );
      return;
    }
    // Only the inference routes (the agent also asks for /v1/models: a pod that lists nothing).
    if (req.method !== 'POST') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"object":"error","message":"not found","code":404}');
      return;
    }
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const body = JSON.parse(raw || '{}') as Record<string, unknown>;
      received.push({ headers: req.headers, httpVersion: req.httpVersion, body });
      const model = String(body.model);
      const usage = { prompt_tokens: promptTokens(body), completion_tokens: COMPLETION_TOKENS, total_tokens: promptTokens(body) + COMPLETION_TOKENS, prompt_tokens_details: { cached_tokens: CACHED_TOKENS } };
      if (!body.stream) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 'cmpl-1', object: 'chat.completion', created: 1, model, choices: [{ index: 0, message: { role: 'assistant', content: 'ok ok' }, finish_reason: 'stop' }], usage }));
        return;
      }
      const include = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
      const tail = include ? ',"usage":null' : '';
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      let n = 0;
      const tick = () => {
        if (n < 3) {
          // Written in two pieces so a line straddles two network chunks.
          const line = `data: {"id":"cmpl-1","object":"chat.completion.chunk","created":1,"model":${JSON.stringify(model)},"choices":[{"index":0,"delta":{"content":"t${n++}"},"finish_reason":null}]${tail}}\n\n`;
          res.write(line.slice(0, 20));
          setTimeout(() => (res.write(line.slice(20)), setTimeout(tick, 2)), 2);
          return;
        }
        if (include) res.write(`data: {"id":"cmpl-1","object":"chat.completion.chunk","created":1,"model":${JSON.stringify(model)},"choices":[],"usage":${JSON.stringify(usage)}}\n\n`);
        res.end('data: [DONE]\n\n');
      };
      tick();
    });
  };
  // node:http2's compatibility API has the same request/response shape for what this pod does.
  const server = options.h2c ? http2.createServer(handle as unknown as Parameters<typeof http2.createServer>[0]) : http.createServer(handle);
  const sessions = new Set<http2.ServerHttp2Session>();
  if (options.h2c) (server as http2.Http2Server).on('session', (s) => (sessions.add(s), s.once('close', () => sessions.delete(s))));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    id: `127.0.0.1:${port}`,
    metrics,
    received,
    versions,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        if (server instanceof http.Server) server.closeAllConnections();
        for (const s of sessions) s.destroy();
      }),
  };
}

/**
 * How the agent fetches /metrics on Node: undici with a keep-alive pool per
 * origin. At 20 scrapes per second per pod the global `fetch` costs several
 * times more CPU (see docs/benchmarks.md). Node-only, hence here; Deno and
 * Workers use the web-standard `fetchGetter` (src/agent/http-get.ts).
 */
import { Agent, request } from 'undici';
import { describeGetError, type MetricsGetter } from '../../agent/http-get.ts';

export function undiciGetter(): MetricsGetter & { close(): Promise<void> } {
  const dispatcher = new Agent({ keepAliveTimeout: 30_000, connections: 2, pipelining: 1 });
  const get = async (url: string, timeoutMs: number): Promise<string> => {
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const res = await request(url, { dispatcher, signal, headers: { accept: 'text/plain' } });
      if (res.statusCode < 200 || res.statusCode >= 300) {
        await res.body.dump();
        throw new Error(`HTTP ${res.statusCode}`);
      }
      return await res.body.text();
    } catch (err) {
      throw new Error(describeGetError(err, signal, timeoutMs));
    }
  };
  return Object.assign(get, { close: () => dispatcher.close() });
}

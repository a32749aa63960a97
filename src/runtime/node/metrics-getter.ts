/**
 * How the agent fetches /metrics on Node: undici with a keep-alive pool per
 * origin. At 20 scrapes per second per pod the global `fetch` costs several
 * times more CPU (see docs/benchmarks.md). Pods of an h2c pool are read over
 * HTTP/2 cleartext. Node-only, hence here; Deno and
 * Workers use the web-standard `fetchGetter` (src/agent/http-get.ts).
 */
import { Agent, request } from 'undici';
import { H2cClient } from '@infergate/http1';
import { clientGetter, describeGetError, type MetricsGetter } from '../../agent/http-get.ts';
import type { AppProtocol } from '../../endpoints/types.ts';

/** undici for HTTP/1.1 pods; packages/http1's h2c client (made at the first one) for h2c pods. */
export function undiciGetter(): MetricsGetter & { close(): Promise<void> } {
  const dispatcher = new Agent({ keepAliveTimeout: 30_000, connections: 2, pipelining: 1 });
  let h2c: { client: H2cClient; get: MetricsGetter } | undefined;
  const get = async (url: string, timeoutMs: number, protocol?: AppProtocol): Promise<string> => {
    if (protocol === 'h2c') {
      if (!h2c) {
        const client = new H2cClient();
        h2c = { client, get: clientGetter(client) };
      }
      return h2c.get(url, timeoutMs, protocol);
    }
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
  return Object.assign(get, { close: async () => void (await Promise.all([dispatcher.close(), h2c?.client.close()])) });
}

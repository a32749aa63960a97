/**
 * How the agent fetches /metrics on Node and Deno (over Deno's node:net and
 * node:http2): the pooled keep-alive HTTP/1.1
 * client of packages/http1 (and its h2c client for pods of an h2c pool),
 * through `clientGetter`. It replaced undici here on 2026-12-06: an undici
 * request with `AbortSignal.timeout` cost ~170–200 µs of CPU a scrape
 * (docs/benchmarks.md, "Agent scraping"), and each such signal made a
 * DOMException with its stack when its timer ran out, long after the page
 * had arrived — an idle gateway scraping three pods every 50 ms spent ~10%
 * of a core on it.
 */
import { H2cClient, Http1Client } from '@infergate/http1';
import { clientGetter, type MetricsGetter } from '../../agent/http-get.ts';
import { byProtocol } from '../../http/upstream.ts';

export function scrapeGetter(): MetricsGetter & { close(): Promise<void> } {
  const client = byProtocol({ http: new Http1Client(), h2c: new H2cClient(), runtime: 'Node' });
  return Object.assign(clientGetter(client), { close: () => client.close() });
}

/**
 * Start a gateway on Deno: the shared assembly (src/gateway/assemble.ts) with
 * Deno's parts — Deno files for the state dir and the endpoints file, the
 * HTTP/1.1 client of packages/http1 to the model servers (over Deno's
 * node:net; `fetch` costs about twice the CPU per request here) and its h2c
 * client for h2c pools (over Deno's node:http2), the same clients for scraping
 * — then the data plane as Node serves it (../node/data-plane.ts, over Deno's
 * node:net and node:http) and `Deno.serve` for the admin API.
 */
import { createDataPlaneApp } from '../../gateway/data-plane-app.ts';
import { assembleGateway, ConfigError, type GatewayStartOptions } from '../../gateway/assemble.ts';
import type { Gateway } from '../../gateway/gateway.ts';
import { Http1Client } from '../../../packages/http1/src/client.ts';
import { H2cClient } from '../../../packages/http1/src/h2c-client.ts';
import { byProtocol } from '../../http/upstream.ts';
import type { RoutingTableStore } from '../../routing/store.ts';
import { deno, type DenoServer } from './api.ts';
import { listenDataPlane } from '../node/data-plane.ts';
import { scrapeGetter } from '../node/metrics-getter.ts';
import { readFileText, watchFile, writeFileAtomic } from './files.ts';
import { denoObservers, type DenoObserverOptions } from './observers.ts';
import { httpOrigin } from '../../endpoints/address.ts';

export type DenoGatewayOptions = GatewayStartOptions & DenoObserverOptions;
/** Startup refused: the configuration has problems, each named. */
export { ConfigError as DenoConfigError };

export interface RunningDenoGateway {
  url: string;
  adminUrl?: string;
  gateway: Gateway;
  store: RoutingTableStore;
  close(): Promise<void>;
}

/** The compiled scheduling kernel, build/kernel.wasm (`npm run build:kernel`). */
export async function loadKernelModule(url = new URL('../../../build/kernel.wasm', import.meta.url)): Promise<WebAssembly.Module> {
  let bytes: Uint8Array;
  try {
    bytes = await deno().readFile(url);
  } catch (err) {
    throw new Error(`cannot read the scheduling kernel ${url.pathname} (run \`npm run build:kernel\`): ${(err as Error).message}`);
  }
  return WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
}

/** Deno.serve binds synchronously (and throws when it cannot); `onListen` only silences its banner. */
function serve(fetch: (r: Request, info: { completed?: Promise<void>; remoteAddr?: { hostname?: string } }) => Response | Promise<Response>, port: number, hostname: string): DenoServer {
  return deno().serve({ port, hostname, onListen: () => {} }, fetch);
}

export async function startDenoGateway(options: DenoGatewayOptions): Promise<RunningDenoGateway> {
  const telemetry = await denoObservers(options, deno().env.toObject());
  // Deno's node:net and node:http2 carry packages/http1's clients: HTTP/1.1, and h2c for h2c pools.
  const h2c = new H2cClient();
  const client = byProtocol({ http: new Http1Client({ connectTimeoutMs: options.upstreamConnectTimeoutMs }), h2c, runtime: 'Deno' });
  // The pods' /metrics are read as on Node (its own pools of the same clients): far less CPU a scrape than fetch.
  const scrape = scrapeGetter();
  let assembled;
  try {
    assembled = await assembleGateway({ ...options, observers: [...(options.observers ?? []), ...telemetry.observers] }, {
      files: { readFileText, watchFile, writeFileAtomic },
      loadKernel: () => loadKernelModule(),
      upstream: client,
      getter: scrape,
    });
  } catch (err) {
    await Promise.all([client.close(), scrape.close()]);
    throw err;
  }
  const { gateway, store, admin } = assembled;
  const servers: { url: string; close(): Promise<void> }[] = [];
  const closeAll = async () => {
    await Promise.all(servers.map((s) => s.close()));
    await Promise.all([client.close(), scrape.close()]);
    await assembled.close();
    await telemetry.close();
  };
  try {
    // The data plane as on Node (../node/data-plane.ts): packages/http1's server over Deno's node:net for the
    // proxied routes — its answers leave in one batch per turn of the event loop, which Deno.serve's cannot —
    // and Deno's node:http, fed the connection, for the rest (@hono/node-server hands Hono the socket).
    const app = createDataPlaneApp(gateway, { clientAddress: (c) => (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket?.remoteAddress });
    // Deno's own Request and Response stay global: the admin API's Deno.serve takes no other.
    const data = await listenDataPlane(gateway, app, options.port ?? 8080, options.host ?? '127.0.0.1', options.dataPlaneLimits, false);
    servers.push({ url: httpOrigin(data.host, data.port), close: () => data.close() });
    if (admin) {
      const server = serve(admin.app.fetch, options.adminPort!, admin.host);
      servers.push({ url: httpOrigin(server.addr.hostname, server.addr.port), close: () => server.shutdown() });
    }
  } catch (err) {
    await closeAll();
    throw err;
  }
  const [data, adminServer] = servers;
  return {
    url: data!.url,
    adminUrl: adminServer?.url,
    gateway,
    store,
    close: closeAll,
  };
}

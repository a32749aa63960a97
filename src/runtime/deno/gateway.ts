/**
 * Start a gateway on Deno: the shared assembly (src/gateway/assemble.ts) with
 * Deno's parts — Deno files for the state dir and the endpoints file, the
 * HTTP/1.1 client of packages/http1 to the model servers (over Deno's
 * node:net; `fetch` costs about twice the CPU per request here) and its h2c
 * client for h2c pools (over Deno's node:http2), the same clients for scraping
 * — then `Deno.serve` for the data plane (./data-plane.ts: the
 * proxied routes straight to the director) and the admin API.
 */
import { createDataPlaneApp } from '../../gateway/data-plane-app.ts';
import { assembleGateway, ConfigError, type GatewayStartOptions } from '../../gateway/assemble.ts';
import type { Gateway } from '../../gateway/gateway.ts';
import { Http1Client } from '../../../packages/http1/src/client.ts';
import { H2cClient } from '../../../packages/http1/src/h2c-client.ts';
import { byProtocol } from '../../http/upstream.ts';
import { clientGetter } from '../../agent/http-get.ts';
import type { RoutingTableStore } from '../../routing/store.ts';
import { deno, type DenoServer } from './api.ts';
import { denoDataPlane } from './data-plane.ts';
import { readFileText, watchFile, writeFileAtomic } from './files.ts';
import { denoObservers, type DenoObserverOptions } from './observers.ts';

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
  const client = byProtocol({ http: new Http1Client(), h2c, runtime: 'Deno' });
  // Its own HTTP/1.1 pool reads the pods' /metrics (h2c pods through the same h2c client): far less CPU a scrape than fetch.
  const scrape = byProtocol({ http: new Http1Client(), h2c, runtime: 'Deno' });
  let assembled;
  try {
    assembled = await assembleGateway({ ...options, observers: [...(options.observers ?? []), ...telemetry.observers] }, {
      files: { readFileText, watchFile, writeFileAtomic },
      loadKernel: () => loadKernelModule(),
      upstream: client,
      getter: clientGetter(scrape),
    });
  } catch (err) {
    await Promise.all([client.close(), scrape.close()]);
    throw err;
  }
  const { gateway, store, admin } = assembled;
  const servers: DenoServer[] = [];
  const closeAll = async () => {
    await Promise.all(servers.map((s) => s.shutdown()));
    await Promise.all([client.close(), scrape.close()]);
    await assembled.close();
    await telemetry.close();
  };
  try {
    // Deno.serve hands Hono its connection info as the env: the client's address is there.
    const app = createDataPlaneApp(gateway, { clientAddress: (c) => (c.env as { remoteAddr?: { hostname?: string } } | undefined)?.remoteAddr?.hostname });
    servers.push(serve(denoDataPlane(gateway, app), options.port ?? 8080, options.host ?? '127.0.0.1'));
    if (admin) servers.push(serve(admin.app.fetch, options.adminPort!, admin.host));
  } catch (err) {
    await closeAll();
    throw err;
  }
  const url = (s: DenoServer) => `http://${s.addr.hostname.includes(':') ? `[${s.addr.hostname}]` : s.addr.hostname}:${s.addr.port}`;
  const [data, adminServer] = servers;
  return {
    url: url(data!),
    adminUrl: adminServer ? url(adminServer) : undefined,
    gateway,
    store,
    close: closeAll,
  };
}

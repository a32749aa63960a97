/**
 * Start a gateway on Deno: the shared assembly (src/gateway/assemble.ts) with
 * Deno's parts — Deno files for the state dir and the endpoints file, `fetch`
 * to the model servers and for scraping — then `Deno.serve` for the data plane
 * and the admin API.
 */
import { createDataPlaneApp } from '../../gateway/data-plane-app.ts';
import { assembleGateway, ConfigError, type GatewayStartOptions } from '../../gateway/assemble.ts';
import type { Gateway } from '../../gateway/gateway.ts';
import { fetchUpstream } from '../../http/fetch-upstream.ts';
import type { RoutingTableStore } from '../../routing/store.ts';
import { deno, type DenoServer } from './api.ts';
import { readFileText, watchFile, writeFileAtomic } from './files.ts';

export type DenoGatewayOptions = GatewayStartOptions;
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
function serve(fetch: (r: Request) => Response | Promise<Response>, port: number, hostname: string): DenoServer {
  return deno().serve({ port, hostname, onListen: () => {} }, fetch);
}

export async function startDenoGateway(options: DenoGatewayOptions): Promise<RunningDenoGateway> {
  const assembled = await assembleGateway(options, {
    files: { readFileText, watchFile, writeFileAtomic },
    loadKernel: () => loadKernelModule(),
    upstream: fetchUpstream,
  });
  const { gateway, store, admin } = assembled;
  const servers: DenoServer[] = [];
  const closeAll = async () => {
    await Promise.all(servers.map((s) => s.shutdown()));
    await assembled.close();
  };
  try {
    // Deno.serve hands Hono its connection info as the env: the client's address is there.
    const app = createDataPlaneApp(gateway, { clientAddress: (c) => (c.env as { remoteAddr?: { hostname?: string } } | undefined)?.remoteAddr?.hostname });
    servers.push(serve(app.fetch, options.port ?? 8080, options.host ?? '127.0.0.1'));
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

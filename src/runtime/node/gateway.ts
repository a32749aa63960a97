/**
 * Start a gateway on Node: the shared assembly (src/gateway/assemble.ts) with
 * Node's parts — files, the kernel from build/, the HTTP/1.1 client of
 * packages/http1 to the model servers, undici for scraping — then the data
 * plane (./data-plane.ts) and the admin API.
 */
import { createDataPlaneApp } from '../../gateway/data-plane-app.ts';
import { hash } from 'node:crypto';
import { assembleGateway, ConfigError, type GatewayStartOptions } from '../../gateway/assemble.ts';
import type { Gateway } from '../../gateway/gateway.ts';
import type { EndpointSource } from '../../endpoints/types.ts';
import type { LocalScheduling } from '../../scheduling/local.ts';
import type { RoutingTableStore } from '../../routing/store.ts';
import { Http1Client } from '@infergate/http1';
import { listenDataPlane } from './data-plane.ts';
import { nodeFiles } from './files.ts';
import { loadKernelModule } from './kernel.ts';
import { listen, type Listening } from './listen.ts';
import { undiciGetter } from './metrics-getter.ts';

export { ConfigError };
export type StartGatewayOptions = GatewayStartOptions;

export interface RunningGateway {
  url: string;
  port: number;
  adminUrl?: string;
  gateway: Gateway;
  store: RoutingTableStore;
  /** What the gateway sees of the pods (tests read it). */
  endpoints: EndpointSource;
  /** Scheduling in this process: the picker, passive health, flow control. */
  scheduling: LocalScheduling;
  close(): Promise<void>;
}

export async function startGateway(options: StartGatewayOptions): Promise<RunningGateway> {
  // The embedded agent scrapes over undici (Node-only, so lent from here).
  const getter = !options.endpointSource && options.endpoints && !options.agent ? undiciGetter() : undefined;
  const upstream = new Http1Client();
  // zeromq is a native module: loaded only when KV events are on.
  const kvEventsTransport = async () => (await import('./zmq-subscriber.ts')).zmqTransport;
  const sha256 = (data: Uint8Array) => hash('sha256', data, 'buffer') as Uint8Array;
  const parts = { files: nodeFiles, loadKernel: () => loadKernelModule(), upstream, getter, kvEventsTransport, sha256 };
  let assembled;
  try {
    assembled = await assembleGateway(options, parts);
  } catch (err) {
    await getter?.close();
    await upstream.close();
    throw err;
  }
  const { gateway, store, admin, endpoints, scheduling } = assembled;
  const servers: Listening[] = [];
  const closeAll = async () => {
    await Promise.all(servers.map((s) => s.close()));
    await upstream.close();
    await assembled.close();
    await getter?.close();
  };
  try {
    const app = createDataPlaneApp(gateway, { clientAddress: (c) => (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket?.remoteAddress });
    servers.push(await listenDataPlane(gateway, app, options.port ?? 8080, options.host ?? '127.0.0.1'));
    if (admin) servers.push(await listen(admin.app.fetch, options.adminPort!, admin.host));
  } catch (err) {
    await closeAll();
    throw err;
  }
  const [data, adminServer] = servers;
  return {
    url: `http://${data!.host}:${data!.port}`,
    port: data!.port,
    adminUrl: adminServer ? `http://${adminServer.host}:${adminServer.port}` : undefined,
    gateway,
    store,
    endpoints,
    scheduling,
    close: closeAll,
  };
}

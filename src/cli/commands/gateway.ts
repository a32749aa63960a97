/**
 * `infergate gateway`: serve the data plane.
 */
import { FlagError, parseFlags, usage, type FlagSpec } from '../flags.ts';
import { environment, waitForShutdown } from '../../runtime/node.ts';
import { ConfigError, startGateway } from '../../runtime/node-gateway.ts';

export const gatewayFlags = {
  manifests: { type: 'string', help: 'Kubernetes manifests (Gateway, HTTPRoute, InferencePool, InferenceModel, InferenceObjective) to load at start' },
  endpoints: { type: 'string', help: 'endpoints file: model-server pods and their labels' },
  port: { type: 'number', default: 8080, help: 'data-plane port' },
  host: { type: 'string', default: '127.0.0.1', help: 'address to listen on (0.0.0.0 in a container)' },
  'body-limit': { type: 'number', default: 8 * 1024 * 1024, help: 'largest request body, bytes' },
  'upstream-timeout': { type: 'number', default: 300_000, help: 'ms to wait for a model server to start answering' },
  'max-attempts': { type: 'number', default: 3, help: 'endpoints tried per request when connections are refused' },
  help: { type: 'boolean', help: 'show this help' },
} satisfies FlagSpec;

export async function run(args: string[]): Promise<number> {
  let flags;
  try {
    flags = parseFlags(args, gatewayFlags, environment());
  } catch (err) {
    if (!(err instanceof FlagError)) throw err;
    console.error(`infergate gateway: ${err.message}\n\n${usage('gateway', gatewayFlags)}`);
    return 2;
  }
  if (flags.help) {
    console.log(usage('gateway', gatewayFlags));
    return 0;
  }
  try {
    const gw = await startGateway({
      manifests: flags.manifests,
      endpoints: flags.endpoints,
      port: flags.port,
      host: flags.host,
      bodyLimit: flags['body-limit'],
      upstreamTimeoutMs: flags['upstream-timeout'],
      maxAttempts: flags['max-attempts'],
    });
    console.log(JSON.stringify({ level: 'info', msg: 'gateway listening', url: gw.url, version: gw.store.version }));
    await waitForShutdown();
    await gw.close();
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`infergate gateway: ${err.message}`);
      return 1;
    }
    throw err;
  }
}

/**
 * `infergate gateway`: serve the data plane.
 */
import { commandFlags } from '../flags.ts';
import { gatewayFlags } from '../gateway-flags.ts';
import { environment, readFileText, waitForShutdown } from '../../runtime/node.ts';
import { ConfigError, startGateway } from '../../runtime/node-gateway.ts';

export { gatewayFlags };

export async function run(args: string[]): Promise<number> {
  const flags = commandFlags('gateway', args, gatewayFlags, environment());
  if (typeof flags === 'number') return flags;
  let token = flags.token;
  if (!token && flags['token-file']) {
    const text = await readFileText(flags['token-file']);
    if (text === undefined) {
      console.error(`infergate gateway: --token-file ${flags['token-file']} does not exist`);
      return 1;
    }
    token = text.trim();
  }
  try {
    const gw = await startGateway({
      manifests: flags.manifests,
      endpoints: flags.endpoints,
      agent: flags.agent,
      schedulingConfig: flags['scheduling-config'],
      adminPort: flags['admin-port'] >= 0 ? flags['admin-port'] : undefined,
      token,
      stateDir: flags['state-dir'],
      scrapeIntervalMs: flags['scrape-interval'],
      staleAfterMs: flags['stale-after'],
      port: flags.port,
      host: flags.host,
      bodyLimit: flags['body-limit'],
      upstreamTimeoutMs: flags['upstream-timeout'],
      maxAttempts: flags['max-attempts'],
    });
    console.log(JSON.stringify({ level: 'info', msg: 'gateway listening', url: gw.url, admin: gw.adminUrl, version: gw.store.version }));
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

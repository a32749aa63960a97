/**
 * `infergate gateway`: serve the data plane.
 */
import { commandFlags } from '../flags.ts';
import { adminToken, gatewayFlags, gatewayOptions } from '../gateway-flags.ts';
import { environment, readFileText, waitForShutdown } from '../../runtime/node.ts';
import { ConfigError, startGateway } from '../../runtime/node-gateway.ts';

export { gatewayFlags };

export async function run(args: string[]): Promise<number> {
  const flags = commandFlags('gateway', args, gatewayFlags, environment());
  if (typeof flags === 'number') return flags;
  const token = await adminToken(flags, readFileText);
  if ('error' in token) {
    console.error(`infergate gateway: ${token.error}`);
    return 1;
  }
  try {
    const gw = await startGateway(gatewayOptions(flags, token.token));
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

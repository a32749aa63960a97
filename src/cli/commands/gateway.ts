/**
 * `infergate gateway`: serve the data plane (in `--workers` processes).
 */
import { commandFlags, FlagError } from '../../config/flags.ts';
import { adminToken, engineMismatch, gatewayFlags, gatewayOptions, workerCount } from '../../config/gateway-flags.ts';
import { cpuCount, environment, readFileText, stateDirProblem, waitForShutdown } from '../../runtime/node/index.ts';
import { ConfigError, startGateway } from '../../runtime/node/gateway.ts';
import { startupFailure } from '../../config/listen-failure.ts';

export { gatewayFlags };

export async function run(args: string[]): Promise<number> {
  const flags = commandFlags('gateway', args, gatewayFlags, environment(), {
    check(f) {
      workerCount(f.workers, cpuCount());
      engineMismatch(f['engine-mismatch']);
      if (f.kubernetes && (f.manifests || f.endpoints || f['state-dir'])) throw new FlagError('--kubernetes takes routes and pods from the cluster: drop --manifests, --endpoints and --state-dir (--agent URL may name an agent that runs --kubernetes)');
      if (f.kubernetes && f.workers !== '1') throw new FlagError('--kubernetes runs one process a replica: scale with Deployment replicas, not --workers');
      if (!f.kubernetes && (f.namespace || f['gateway-class'] || f['lease-namespace'])) throw new FlagError('--namespace, --gateway-class and --lease-namespace need --kubernetes');
      if (f.agent && f.endpoints) throw new FlagError('give --endpoints FILE (scrape the pods here) or --agent URL (follow an agent), not both');
      if (f.host.trim() === '') throw new FlagError('--host must name an address: 127.0.0.1 (the default), or 0.0.0.0 for every interface');
    },
  });
  if (typeof flags === 'number') return flags;
  const token = await adminToken(flags, readFileText);
  if ('error' in token) {
    console.error(`infergate gateway: ${token.error}`);
    return 1;
  }
  // A state dir that cannot be created or written is said now, not found out by the first apply.
  const stateDir = flags['state-dir'] ? await stateDirProblem(flags['state-dir']) : undefined;
  if (stateDir) {
    console.error(`infergate gateway: --state-dir: ${stateDir}`);
    return 1;
  }
  const workers = workerCount(flags.workers, cpuCount());
  // Loaded only when asked for: node:cluster and the worker plumbing stay out of a single-process gateway.
  const cluster = workers > 1 ? await import('../../runtime/node/cluster.ts') : undefined;
  try {
    const options = gatewayOptions(flags, token.token);
    // Loaded only when asked for: the Kubernetes client stays out of a gateway that does not use it.
    const kubernetes = flags.kubernetes ? await import('../../runtime/node/kubernetes-gateway.ts') : undefined;
    const gw = kubernetes
      ? await kubernetes.startKubernetesGateway(options, { namespace: flags.namespace, gatewayClass: flags['gateway-class'], leaseName: flags['lease-name'], leaseNamespace: flags['lease-namespace'] })
      : cluster
        ? await cluster.startClusterGateway({ ...options, workers })
        : await startGateway(options);
    console.log(JSON.stringify({ level: 'info', msg: 'gateway listening', url: gw.url, admin: gw.adminUrl, version: gw.store.version, workers }));
    await waitForShutdown();
    await gw.close();
    return 0;
  } catch (err) {
    if (err instanceof ConfigError || (cluster && err instanceof cluster.WorkerStartError)) {
      console.error(`infergate gateway: ${err.message}`);
      return 1;
    }
    // A flag value only the options' reading refuses (a mode, a store URL): as any bad flag, exit 2.
    if (err instanceof FlagError) {
      console.error(`infergate gateway: ${err.message}`);
      return 2;
    }
    const oneLine = startupFailure(err, flags);
    if (oneLine) {
      console.error(`infergate gateway: ${oneLine}`);
      return 1;
    }
    throw err;
  }
}

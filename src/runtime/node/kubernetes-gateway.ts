/**
 * `infergate gateway --kubernetes` and `infergate agent --kubernetes` on Node:
 * the Kubernetes port over @kubernetes/client-node, this replica's identity
 * for leader election, and the pieces assembled — an embedded agent whose
 * pods come from the API, the gateway (src/runtime/node/gateway.ts, unchanged)
 * given that endpoint source, and the routing table followed from the
 * cluster with status written back.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { MetricsAgent } from '../../agent/agent.ts';
import { KubernetesAgentSource, KubernetesPodDiscovery, startKubernetesRouting, type KubernetesRouting } from '../../kubernetes/index.ts';
import { scrapeGetter } from './metrics-getter.ts';
import { startGateway, type RunningGateway, type StartGatewayOptions } from './gateway.ts';
import { loadKubeConfig, NodeKubernetesPort } from './kubernetes.ts';

export interface KubernetesFlags {
  /** One namespace; undefined: all (needs cluster-wide RBAC). */
  namespace?: string;
  gatewayClass?: string;
  leaseName?: string;
  /** Where the Lease lives (default: this pod's own namespace; see leaseNamespace). */
  leaseNamespace?: string;
  /** Where this pod's namespace is read from (default: the service account's mount; tests point it elsewhere). */
  podNamespaceFile?: string;
  /** Kubeconfig YAML (tests); default: KUBECONFIG, ~/.kube/config, or the service account. */
  kubeconfig?: string;
  /** Leader election identity (default: hostname_uuid, as client-go builds it). */
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** How long to wait for the first lists before serving (default 10 s). */
  waitMs?: number;
}

const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/**
 * Where the lease lives: --lease-namespace, else this pod's own namespace (the service account's, as
 * controller-runtime's leader election defaults to), else the kubeconfig context's, else default.
 * Not --namespace: that is where the watched objects are, while the Lease's Role is granted where
 * infergate runs (deploy/base/rbac.yaml); a single-namespace install binds only the read ClusterRoles
 * in NS, so a Lease there could never be taken and no replica would write status.
 */
async function leaseNamespace(flags: KubernetesFlags, contextNamespace: string | undefined): Promise<string> {
  if (flags.leaseNamespace) return flags.leaseNamespace;
  try {
    return (await readFile(flags.podNamespaceFile ?? SERVICE_ACCOUNT_NAMESPACE, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return contextNamespace ?? 'default';
  }
}

export interface KubernetesGateway extends RunningGateway {
  /** The embedded agent's discovery; undefined when a remote agent (`--agent URL`, itself `--kubernetes`) finds the pods. */
  discovery?: KubernetesPodDiscovery;
  routing: KubernetesRouting;
}

/** The endpoint source: a remote agent when `options.agent` names one, else an embedded agent fed by the API. */
async function podsFrom(port: NodeKubernetesPort, options: StartGatewayOptions, flags: KubernetesFlags, log: (line: Record<string, unknown>) => void) {
  if (options.agent) return { discovery: undefined, endpointSource: undefined };
  const getter = scrapeGetter();
  const agent = new MetricsAgent({ get: getter, scrapeIntervalMs: options.scrapeIntervalMs });
  const discovery = new KubernetesPodDiscovery(port, agent, { namespace: flags.namespace, log });
  await discovery.start(flags.waitMs);
  agent.start();
  return { discovery, endpointSource: new KubernetesAgentSource(agent, discovery, () => getter.close()) };
}

export async function startKubernetesGateway(options: StartGatewayOptions, flags: KubernetesFlags): Promise<KubernetesGateway> {
  const log = options.log ?? ((line: Record<string, unknown>) => console.error(JSON.stringify(line)));
  const kc = loadKubeConfig(flags.kubeconfig);
  const port = new NodeKubernetesPort(kc);
  const { discovery, endpointSource } = await podsFrom(port, options, flags, log);
  let gateway: RunningGateway;
  try {
    const tableReadOnly = 'this gateway takes its routing table from the Kubernetes API (--kubernetes): change the objects there, with kubectl apply';
    gateway = await startGateway({ ...options, manifests: undefined, stateDir: undefined, endpoints: undefined, endpointSource, log, tableReadOnly });
  } catch (err) {
    await endpointSource?.close();
    throw err;
  }
  const routing = await startKubernetesRouting(port, gateway.store, {
    namespace: flags.namespace,
    gatewayClass: flags.gatewayClass,
    identity: flags.identity ?? `${hostname()}_${randomUUID()}`,
    leaseNamespace: await leaseNamespace(flags, kc.getContextObject(kc.getCurrentContext())?.namespace),
    leaseName: flags.leaseName,
    leaseDurationMs: flags.leaseDurationMs,
    renewDeadlineMs: flags.renewDeadlineMs,
    retryPeriodMs: flags.retryPeriodMs,
    waitMs: flags.waitMs,
    log,
  });
  return {
    ...gateway,
    discovery,
    routing,
    async close() {
      // Release the lease first, so another replica writes status while this one drains.
      await routing.close();
      await gateway.close();
    },
  };
}

/** The agent's discovery from the API (`infergate agent --kubernetes`). */
export async function startKubernetesDiscovery(agent: MetricsAgent, flags: Pick<KubernetesFlags, 'namespace' | 'kubeconfig' | 'waitMs'>, log: (line: Record<string, unknown>) => void): Promise<KubernetesPodDiscovery> {
  const discovery = new KubernetesPodDiscovery(new NodeKubernetesPort(loadKubeConfig(flags.kubeconfig)), agent, { namespace: flags.namespace, log });
  await discovery.start(flags.waitMs);
  return discovery;
}

/**
 * infergate in a Kubernetes cluster, runtime-neutral: the routing table from
 * the routing objects, their status written back by the elected replica, and
 * the pods of each pool for the agent. A runtime supplies the KubernetesPort
 * (Node: src/runtime/node/kubernetes.ts).
 *
 * @example
 * const routing = await startKubernetesRouting(port, store, { identity: 'gw-1', leaseNamespace: 'infergate' });
 * ...
 * await routing.close(); // releases the lease when leading
 */
import type { RoutingTableStore } from '../routing/store.ts';
import { LeaderElector } from './leader.ts';
import type { KubernetesPort } from './port.ts';
import { KubernetesRoutingSource } from './routing-source.ts';
import { StatusWriter } from './status-writer.ts';

export const DEFAULT_CONTROLLER_NAME = 'infergate.dev/gateway-controller';
export const DEFAULT_LEASE_NAME = 'infergate-gateway';

export interface KubernetesRoutingOptions {
  /** Watch one namespace (undefined: all namespaces). */
  namespace?: string;
  /** Only Gateways of this class, and the HTTPRoutes attached to them. */
  gatewayClass?: string;
  controllerName?: string;
  /** This replica's name in the Lease (client-go: hostname + "_" + a random id). */
  identity: string;
  leaseNamespace: string;
  leaseName?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Wait this long for the first list before returning (the table is applied when it arrives). */
  waitMs?: number;
  log?: (line: Record<string, unknown>) => void;
}

export interface KubernetesRouting {
  source: KubernetesRoutingSource;
  writer: StatusWriter;
  elector: LeaderElector;
  close(): Promise<void>;
}

export async function startKubernetesRouting(port: KubernetesPort, store: RoutingTableStore, options: KubernetesRoutingOptions): Promise<KubernetesRouting> {
  const log = options.log ?? (() => {});
  let elector: LeaderElector | undefined = undefined;
  const writer = new StatusWriter(port, { isLeader: () => elector?.isLeader ?? false, log });
  elector = new LeaderElector(port, {
    namespace: options.leaseNamespace,
    name: options.leaseName ?? DEFAULT_LEASE_NAME,
    identity: options.identity,
    leaseDurationMs: options.leaseDurationMs,
    renewDeadlineMs: options.renewDeadlineMs,
    retryPeriodMs: options.retryPeriodMs,
    onStartedLeading: () => writer.kick(),
    log,
  });
  const source = new KubernetesRoutingSource(port, store, (desired) => writer.set(desired), {
    namespace: options.namespace,
    gatewayClass: options.gatewayClass,
    controllerName: options.controllerName ?? DEFAULT_CONTROLLER_NAME,
    log,
  });
  elector.start();
  await source.start(options.waitMs);
  const running = elector;
  return {
    source,
    writer,
    elector: running,
    async close() {
      source.stop();
      writer.stop();
      await writer.idle();
      await running.stop();
    },
  };
}

export { KubernetesPodDiscovery } from './pod-discovery.ts';
export { KubernetesAgentSource } from './agent-source.ts';
export type { KubernetesPort } from './port.ts';

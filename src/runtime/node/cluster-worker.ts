/**
 * A data-plane worker of `infergate gateway --workers N`, forked by the
 * primary (./cluster.ts) with its configuration in the environment: a
 * normal gateway whose routing table follows the primary's and whose
 * endpoints come from the primary's agent (or the remote one), listening on
 * the shared data-plane port. No admin API here. It answers the primary's
 * requests for its metrics, and stops on SIGTERM/SIGINT (or when the primary
 * goes away: node:cluster exits a worker whose IPC channel closes).
 */
import { DashboardRelay } from '../../gateway/dashboard-relay.ts';
import { ConfigError, startGateway } from './gateway.ts';
import { listenFailure } from '../../config/listen-failure.ts';
import { waitForShutdown } from './process.ts';
import { WORKER_CONFIG_ENV, type PrimaryMessage, type WorkerConfig, type WorkerMessage } from './cluster.ts';


function send(message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(message, undefined, undefined, () => resolve());
  });
}

async function main(): Promise<number> {
  let config: WorkerConfig;
  try {
    config = JSON.parse(process.env[WORKER_CONFIG_ENV] ?? '') as WorkerConfig;
  } catch {
    await send({ type: 'infergate:failed', error: `${WORKER_CONFIG_ENV} is not set or not JSON: this file is started by \`infergate gateway --workers N\``, fatal: true });
    return 1;
  }
  const tag = { worker: config.slot, pid: process.pid };
  const log = (line: Record<string, unknown>) => console.error(JSON.stringify({ ...line, ...tag }));
  // The dashboard is served by the primary: this worker relays its requests there while a page is open.
  const relay = new DashboardRelay((batch) => void send({ type: 'infergate:dashboard', batch }));
  let gw;
  try {
    gw = await startGateway({ ...config.options, log, observers: [relay.observer] });
  } catch (err) {
    const listen = listenFailure(err, config.options);
    const listenError = listen !== undefined;
    const error = listen ?? (err as Error).message;
    if (!(err instanceof ConfigError) && !listenError) log({ level: 'error', msg: 'gateway worker failed to start', error: String((err as Error)?.stack ?? err) });
    await send({ type: 'infergate:failed', error, fatal: err instanceof ConfigError || listenError });
    return 1;
  }
  const running = gw;
  process.on('message', (msg: PrimaryMessage) => {
    if (msg?.type === 'infergate:metrics') void send({ type: 'infergate:metrics', id: msg.id, text: running.gateway.metrics.render() });
    else if (msg?.type === 'infergate:dashboard-watch') relay.watch(msg.watch);
  });
  await send({ type: 'infergate:ready', port: running.port });
  await waitForShutdown();
  relay.close();
  await running.close();
  return 0;
}

// Exit explicitly: the IPC channel to the primary would keep the process alive.
process.exit(await main());

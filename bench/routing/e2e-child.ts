/**
 * A child process of the end-to-end mode: `pods` runs simulated vLLM pods
 * (startSimulator), `gateway` runs the real gateway (startGateway, embedded
 * agent scraping the pods) with one of the benchmark's strategies as its
 * scheduler. Reads its JSON config from argv[2]; prints one JSON line
 * `{ "ready": … }` on stdout when listening; exits on SIGTERM.
 */
import { startSimulator } from '../../src/runtime/node/index.ts';
import { startGateway } from '../../src/runtime/node/gateway.ts';
import { loadKernelModule } from '../../src/runtime/node/index.ts';
import { DEFAULT_SATURATION } from '../../src/scheduling/index.ts';
import type { Scheduler } from '../../src/scheduling/scheduler.ts';
import { seeded } from '../lib/rand.ts';
import { strategyByName, type Strategy } from './strategies/index.ts';

interface PodsConfig {
  role: 'pods';
  pods: number;
  port: number;
  model: string;
  loras: string[];
  timeScale: number;
  engineConfig: Record<string, number | boolean>;
  seed: number;
}

interface GatewayConfig {
  role: 'gateway';
  strategy: string;
  manifests: string;
  endpoints: string;
  scrapeIntervalMs: number;
  staleAfterMs: number;
  /** Wall ms per engine ms: limits in engine time are scaled by it. */
  timeScale: number;
  seed: number;
}

/** Pools of the e2e table carry no profile; a profile strategy's scheduler sees its profile name. */
function withProfile(inner: Scheduler, profile: string | undefined): Scheduler {
  if (profile === undefined) return inner;
  return {
    decide: (pool, snapshot, request) => inner.decide({ ...pool, profile }, snapshot, request),
    dispatched: (pool, endpoint, request) => inner.dispatched({ ...pool, profile }, endpoint, request),
    firstToken: (pool, endpoint, request) => inner.firstToken?.({ ...pool, profile }, endpoint, request),
    completed: (pool, endpoint, request) => inner.completed({ ...pool, profile }, endpoint, request),
  };
}

const config = JSON.parse(process.argv[2]!) as PodsConfig | GatewayConfig;
let close: () => Promise<void>;
if (config.role === 'pods') {
  const sim = await startSimulator({
    pods: config.pods, port: config.port, model: config.model, loras: config.loras, timeScale: config.timeScale,
    engineConfig: config.engineConfig, seed: config.seed,
  });
  close = () => sim.close();
  console.log(JSON.stringify({ ready: sim.pods.map((p) => p.url) }));
} else {
  const strategy = strategyByName(config.strategy);
  if (!strategy) throw new Error(`unknown strategy ${config.strategy}`);
  const kernel = await loadKernelModule();
  const scheduler = withProfile(strategy.create({ now: Date.now, random: seeded(config.seed, 7), kernel }), strategy.profile);
  const gw = await startGateway({
    port: 0, manifests: config.manifests, endpoints: config.endpoints, scheduler,
    scrapeIntervalMs: config.scrapeIntervalMs, staleAfterMs: config.staleAfterMs, log: () => {},
    // The load generator is one address standing in for many clients: no per-client connection cap.
    dataPlaneLimits: { maxConnectionsPerClient: 16_384, maxConnections: 16_384 },
    // Flow control sits in the gateway, between admission and scheduling: the strategy's configuration, as the gateway takes it.
    // Its saturation detector's staleness limit is in engine time, like the scrapes (else, at time scale 4, a snapshot
    // 200 ms old in wall time would already count as stale and flow control would see no fresh pod, so hold nothing).
    // Flow isolation's window (its rates, the hold of contention, the reserve's shrinking) is in engine time too.
    ...(strategy.flowControl ? { flowControl: inEngineTime(strategy.flowControl, config.timeScale) } : {}),
  });
  close = () => gw.close();
  console.log(JSON.stringify({ ready: gw.url }));
}
process.on('SIGTERM', () => {
  close().finally(() => process.exit(0));
});

/** A strategy's flow-control options with their durations in engine time: wall ms = engine ms × the time scale. */
function inEngineTime(fc: NonNullable<Strategy['flowControl']>, timeScale: number): NonNullable<Strategy['flowControl']> {
  const isolation = fc.config.isolation;
  return {
    ...fc,
    saturation: { ...fc.saturation, metricsStalenessThreshold: DEFAULT_SATURATION.metricsStalenessThreshold * timeScale },
    ...(isolation ? { config: { ...fc.config, isolation: { ...isolation, windowMs: isolation.windowMs * timeScale } } } : {}),
  };
}

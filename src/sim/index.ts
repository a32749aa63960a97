/**
 * Starts N simulated vLLM pods in this process, each a Hono app on its own
 * port with its own engine, driven on the real clock (scaled by `timeScale`).
 *
 * @example
 * const sim = await startSimulator({ pods: 2, port: 0, timeScale: 0.1 }, listen); // listen: the runtime's (src/runtime/node/sim.ts)
 * await fetch(`${sim.pods[0].url}/v1/models`);
 * await sim.close();
 */
import * as v from 'valibot';
import { EngineConfigOverrides, resolveEngineConfig } from './config.ts';
import { RealTimeDriver } from './driver.ts';
import { SimEngine } from './engine.ts';
import { FaultConfig, noFaults, parseFaults, type FaultInput } from './faults.ts';
import type { EngineFlavor, PodContext } from './pod-context.ts';
import { createPodApp } from './server.ts';
import { rng } from './text.ts';
import { BlockHasher, HASH_ALGOS } from '../kvevents/block-hash.ts';
import type { KvEventPublisher, OpenPublisher } from '../kvevents/transport.ts';
import { PodKvEvents, publisherAddress } from './kv-events.ts';
import type { PodKvHashing } from './prompt-blocks.ts';
import { httpOrigin } from '../endpoints/address.ts';

export { SimEngine } from './engine.ts';
export { RealTimeDriver } from './driver.ts';
export { resolveEngineConfig, defaultEngineConfig, profiles, type EngineConfig } from './config.ts';
export { Sequence, type SimRequest } from './sequence.ts';
export { blockHashes, chatPromptText, countTokens } from './text.ts';
export type { FaultConfig, FaultInput } from './faults.ts';

/** A listening pod server. */
export interface Listening {
  port: number;
  host: string;
  close(): Promise<void>;
}

/** How a pod listens: the runtime serves its fetch handler on host:port (Node: src/runtime/node/sim.ts). */
export type ListenFn = (fetch: (r: Request) => Response | Promise<Response>, port: number, host: string) => Promise<Listening>;

export const SimulatorOptions = v.strictObject({
  /** How many pods (default 1). */
  pods: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1024)), 1),
  /** First pod's port; pod i listens on port + i. 0: every pod picks a free port. */
  port: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(65535)), 8000),
  host: v.optional(v.string(), '127.0.0.1'),
  /** Served (base) model name. */
  model: v.optional(v.pipe(v.string(), v.minLength(1)), 'meta-llama/Llama-3.1-8B-Instruct'),
  /** LoRA adapters registered on every pod (loaded into a GPU slot on first use). */
  loras: v.optional(v.array(v.pipe(v.string(), v.minLength(1))), []),
  /** Put the first max_loras adapters in GPU slots at start (no cold load). */
  preloadLoras: v.optional(v.boolean(), false),
  engine: v.optional(v.picklist(['vllm', 'sglang']), 'vllm'),
  profile: v.optional(v.string(), 'llama3-8b-h100'),
  engineConfig: v.optional(EngineConfigOverrides, {}),
  /** Wall time per engine time: 0.1 runs ten times faster. */
  timeScale: v.optional(v.pipe(v.number(), v.minValue(0.001), v.maxValue(1000)), 1),
  seed: v.optional(v.pipe(v.number(), v.integer()), 1),
  /**
   * The generated text depends on the prompt only, as greedy decoding on a
   * real model does: every pod writes the same answer to the same prompt,
   * and a chat continued with `continue_final_message` goes on where the
   * final assistant message stopped (to test resuming a stream on another pod).
   */
  deterministic: v.optional(v.boolean(), false),
  /** Name prefix: pods are `<prefix>-0`, `<prefix>-1`, ... */
  name: v.optional(v.string(), 'sim'),
  faults: v.optional(v.unknown()),
  /**
   * vLLM's `--kv-events-config` endpoint: publish KV events on a ZMQ PUB socket
   * here (`tcp://127.0.0.1:5557`; pod i gets port + i, port 0 a free one).
   */
  kvEventsEndpoint: v.optional(v.pipe(v.string(), v.minLength(1))),
  /** The replay ROUTER socket (vLLM's `replay_endpoint`); pod i gets port + i. */
  kvEventsReplayEndpoint: v.optional(v.pipe(v.string(), v.minLength(1))),
  /** vLLM's `topic` (default ""); `{pod}` and `{model}` are replaced (llm-d uses `kv@{pod}@{model}`). */
  kvEventsTopic: v.optional(v.string(), ''),
  /** Batches kept for replay (vLLM's `buffer_steps`). */
  kvEventsBufferSteps: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1_000_000)), 10_000),
  /** Event encoding: `map` (vLLM since #42892) or `array` (older vLLM). */
  kvEventsLayout: v.optional(v.picklist(['map', 'array']), 'map'),
  /** vLLM's `--prefix-caching-hash-algo` (block hashes when KV events are on). */
  prefixCachingHashAlgo: v.optional(v.picklist(HASH_ALGOS), 'sha256'),
  /** The engines' PYTHONHASHSEED (NONE_HASH = H(seed)); vLLM draws a random one when unset, the simulator uses "0". */
  hashSeed: v.optional(v.string(), '0'),
});
export type SimulatorOptions = v.InferInput<typeof SimulatorOptions> & { faults?: FaultInput };

export interface SimPod {
  readonly name: string;
  readonly index: number;
  readonly host: string;
  /** The port it listens on (kept when it stops and resumes listening). */
  readonly port: number;
  /** `http://host:port`. */
  readonly url: string;
  readonly model: string;
  readonly engine: SimEngine;
  readonly driver: RealTimeDriver;
  readonly faults: FaultConfig;
  /** True while the listening socket is open. */
  readonly listening: boolean;
  /** Inference requests (`POST /v1/*`) received since start, answered or not (a fault's answers too). */
  readonly received: number;
  /** The KV-event sockets, when the pod publishes events. */
  readonly kvEvents: { endpoint: string; replayEndpoint: string | undefined; recorder: PodKvEvents } | undefined;
  /** Replaces the fault set (same as `POST /admin/faults`). */
  setFaults(faults: FaultInput): Promise<void>;
  close(): Promise<void>;
}

export interface Simulator {
  readonly pods: SimPod[];
  close(): Promise<void>;
}

/**
 * `listen` serves a pod's fetch handler (the runtime's); `openPublisher`
 * opens a pod's KV-event publisher, needed only when a pod publishes KV events
 * (Node lends its ZeroMQ one: src/runtime/node/sim.ts).
 */
export async function startSimulator(options: SimulatorOptions, listen: ListenFn, openPublisher?: OpenPublisher): Promise<Simulator> {
  const parsed = v.safeParse(SimulatorOptions, options);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    throw new Error(`invalid simulator option ${issue.path?.map((p) => String(p.key)).join('.') ?? ''}: ${issue.message}`);
  }
  const o = parsed.output;
  const initialFaults = checkFaults(o.faults ?? {});
  const config = resolveEngineConfig(o.engineConfig, o.profile);
  const pods: SimPod[] = [];
  try {
    for (let i = 0; i < o.pods; i++) {
      pods.push(await startPod(i, o.port === 0 ? 0 : o.port + i, o, config, initialFaults, listen, openPublisher));
    }
  } catch (err) {
    await Promise.all(pods.map((p) => p.close()));
    throw err;
  }
  return { pods, close: () => Promise.all(pods.map((p) => p.close())).then(() => undefined) };
}

function checkFaults(input: unknown): FaultConfig {
  const r = parseFaults(input);
  if (!r.ok) throw new Error(r.message);
  return r.faults;
}

async function startPod(
  index: number,
  wantPort: number,
  o: v.InferOutput<typeof SimulatorOptions>,
  config: ReturnType<typeof resolveEngineConfig>,
  initialFaults: FaultConfig,
  listen: ListenFn,
  openPublisher: OpenPublisher | undefined,
): Promise<SimPod> {
  const engine = new SimEngine({ ...config });
  const name = `${o.name}-${index}`;
  let kvHashing: PodKvHashing | undefined;
  let kvEvents: SimPod['kvEvents'];
  if (o.kvEventsEndpoint) {
    if (!openPublisher) throw new Error('KV events need a publisher from the runtime (on Node: ZeroMQ, src/runtime/node/sim.ts)');
    kvHashing = { hasher: new BlockHasher({ blockSize: config.blockSize, algo: o.prefixCachingHashAlgo, seed: o.hashSeed }), loraIds: new Map() };
    const pubAt = publisherAddress(o.kvEventsEndpoint, index, o.host);
    const replayAt = o.kvEventsReplayEndpoint ? publisherAddress(o.kvEventsReplayEndpoint, index, o.host).endpoint : undefined;
    const recorder = new PodKvEvents(engine, {
      endpoint: pubAt.endpoint,
      replayEndpoint: replayAt,
      bind: pubAt.bind,
      topic: o.kvEventsTopic.replaceAll('{pod}', name).replaceAll('{model}', o.model),
      bufferSteps: o.kvEventsBufferSteps,
      layout: o.kvEventsLayout,
    });
    const pub: KvEventPublisher = await recorder.open(openPublisher);
    kvEvents = { endpoint: pub.endpoint, replayEndpoint: pub.replayEndpoint, recorder };
  }
  if (o.preloadLoras) engine.lora.preload(o.loras);
  const driver = new RealTimeDriver(engine, o.timeScale);
  let listener: Listening | undefined;
  let resumeTimer: ReturnType<typeof setTimeout> | undefined;
  let port = wantPort;
  let closed = false;
  // While the pod does not listen, nothing else may hold the event loop open (`infergate sim` with
  // one pod would exit with 13, its top-level await unsettled): this timer does, until it listens again.
  let keepAlive: ReturnType<typeof setInterval> | undefined;

  const ctx: PodContext = {
    name,
    kvHashing,
    model: o.model,
    adapters: new Set(o.loras),
    engine,
    driver,
    flavor: o.engine as EngineFlavor,
    startedAt: Math.floor(Date.now() / 1000),
    random: rng(o.seed * 7919 + index),
    deterministic: o.deterministic,
    faults: noFaults,
    inFlight: 0,
    received: 0,
    async setFaults(next) {
      ctx.faults = next;
      if (resumeTimer) clearTimeout(resumeTimer);
      resumeTimer = undefined;
      if (next.stop_listening && listener) {
        await new Promise((r) => setTimeout(r, 20)); // let the admin answer leave first
        await stop();
        if (next.stop_listening_ms > 0) {
          resumeTimer = setTimeout(() => void ctx.setFaults({ ...ctx.faults, stop_listening: false, stop_listening_ms: 0 }), next.stop_listening_ms);
        }
      } else if (!next.stop_listening && !listener && !closed) {
        await start();
      }
    },
  };
  const app = createPodApp(ctx);

  async function start(): Promise<void> {
    listener = await listen(app.fetch, port, o.host);
    port = listener.port;
    if (keepAlive) clearInterval(keepAlive);
    keepAlive = undefined;
  }
  async function stop(): Promise<void> {
    const l = listener;
    listener = undefined;
    if (!closed && !keepAlive) keepAlive = setInterval(() => {}, 1 << 30);
    await l?.close();
  }

  try {
    await start();
  } catch (err) {
    await kvEvents?.recorder.close(); // the pod never came up: its event sockets must not outlive it
    throw err;
  }
  await ctx.setFaults(initialFaults);
  return {
    name: ctx.name,
    index,
    host: o.host,
    get port() {
      return port;
    },
    get url() {
      return httpOrigin(o.host, port);
    },
    model: o.model,
    engine,
    driver,
    get faults() {
      return ctx.faults;
    },
    get listening() {
      return listener !== undefined;
    },
    get received() {
      return ctx.received;
    },
    kvEvents,
    setFaults: (f) => ctx.setFaults(checkFaults(f)),
    async close() {
      closed = true;
      if (resumeTimer) clearTimeout(resumeTimer);
      if (keepAlive) clearInterval(keepAlive);
      keepAlive = undefined;
      driver.close();
      await stop();
      await kvEvents?.recorder.close();
    },
  };
}

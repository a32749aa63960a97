/**
 * `infergate sim`: N simulated vLLM pods in one process, on ports port..port+N-1.
 * Every flag can also be set as INFERGATE_SIM_<FLAG> (`--max-loras` ↔ INFERGATE_SIM_MAX_LORAS).
 */
import { commandFlags, usage, type FlagSpec, PORT } from '../../config/flags.ts';
import { startupFailure } from '../../config/listen-failure.ts';
import { environment, waitForShutdown } from '../../runtime/node/index.ts';
import type { SimulatorOptions } from '../../sim/index.ts';
import { startSimulator } from '../../runtime/node/index.ts';

const spec = {
  pods: { type: 'number', default: 1, help: 'number of simulated pods' },
  port: { type: 'number', ...PORT, default: 8000, help: 'port of the first pod (pod i gets port+i; 0 = free ports)' },
  host: { type: 'string', default: '127.0.0.1', help: 'address to listen on' },
  model: { type: 'string', default: 'meta-llama/Llama-3.1-8B-Instruct', help: 'served base model name' },
  lora: { type: 'string', default: '', help: 'LoRA adapters registered on every pod, comma-separated' },
  'preload-loras': { type: 'boolean', default: false, help: 'start with the first max-loras adapters in GPU slots' },
  'max-loras': { type: 'number', help: 'distinct adapters per running batch (vLLM default 1)' },
  engine: { type: 'string', default: 'vllm', help: 'metric names to expose: vllm or sglang' },
  profile: { type: 'string', default: 'llama3-8b-h100', help: 'parameter set: llama3-8b-h100, llama3-8b-a100' },
  'time-scale': { type: 'number', default: 1, help: 'wall time per engine time (0.1 = ten times faster)' },
  seed: { type: 'number', default: 1, help: 'seed for ids and fault draws' },
  deterministic: { type: 'boolean', help: 'answers depend on the prompt only (greedy decoding); continue_final_message continues them' },
  'max-num-seqs': { type: 'number', help: 'running slots per pod' },
  'max-num-batched-tokens': { type: 'number', help: 'token budget per step' },
  'num-gpu-blocks': { type: 'number', help: 'KV-cache blocks per pod' },
  'block-size': { type: 'number', help: 'tokens per KV block' },
  'max-model-len': { type: 'number', help: 'longest prompt + output' },
  'prefix-caching': { type: 'boolean', default: true, help: 'prefix caching (--prefix-caching=false to disable)' },
  'output-tokens': { type: 'number', help: 'output length when a request gives no hint' },
  'fault-error-rate': { type: 'number', default: 0, help: 'fraction of requests answered with --fault-error-status' },
  'fault-error-status': { type: 'number', default: 500, help: '500, 429 or 503' },
  'fault-stall-ms': { type: 'number', default: 0, help: 'hold every response this long before the first token' },
  'fault-disconnect-after': { type: 'number', default: 0, help: 'cut streams after this many tokens' },
  'fault-unhealthy': { type: 'boolean', default: false, help: '/health answers 503' },
  'kv-events-endpoint': { type: 'string', default: '', help: 'publish KV events on a ZMQ PUB socket, e.g. tcp://127.0.0.1:5557 (pod i: port+i)' },
  'kv-events-replay-endpoint': { type: 'string', default: '', help: 'the replay ROUTER socket, e.g. tcp://127.0.0.1:5657 (pod i: port+i)' },
  'kv-events-topic': { type: 'string', default: '', help: 'ZMQ topic; {pod} and {model} are replaced (llm-d: kv@{pod}@{model})' },
  'prefix-caching-hash-algo': { type: 'string', default: 'sha256', help: 'block hash: sha256 (pickle, vLLM default) or sha256_cbor' },
  'hash-seed': { type: 'string', default: '0', help: "the engines' PYTHONHASHSEED (NONE_HASH = H(seed))" },
  help: { type: 'boolean', default: false, help: 'show this help' },
} satisfies FlagSpec;

/** The flags, for checks of manifests that run `infergate sim` (test/deploy-manifests.test.ts). */
export const simFlags = spec;

export async function run(args: string[]): Promise<number> {
  const flags = commandFlags('sim', args, spec, simEnvironment(), { help: help() });
  if (typeof flags === 'number') return flags;
  const options: SimulatorOptions = {
    pods: flags.pods,
    port: flags.port,
    host: flags.host,
    model: flags.model,
    loras: flags.lora.split(',').map((s) => s.trim()).filter(Boolean),
    preloadLoras: flags['preload-loras'],
    engine: flags.engine as 'vllm' | 'sglang',
    profile: flags.profile,
    timeScale: flags['time-scale'],
    seed: flags.seed,
    deterministic: flags.deterministic,
    engineConfig: definedOnly({
      maxLoras: flags['max-loras'],
      maxNumSeqs: flags['max-num-seqs'],
      maxBatchedTokens: flags['max-num-batched-tokens'],
      numGpuBlocks: flags['num-gpu-blocks'],
      blockSize: flags['block-size'],
      maxModelLen: flags['max-model-len'],
      prefixCaching: flags['prefix-caching'],
      defaultOutputTokens: flags['output-tokens'],
    }),
    ...(flags['kv-events-endpoint']
      ? {
          kvEventsEndpoint: flags['kv-events-endpoint'],
          kvEventsReplayEndpoint: flags['kv-events-replay-endpoint'] || undefined,
          kvEventsTopic: flags['kv-events-topic'],
          prefixCachingHashAlgo: flags['prefix-caching-hash-algo'] as 'sha256' | 'sha256_cbor',
          hashSeed: flags['hash-seed'],
        }
      : {}),
    faults: {
      error_rate: flags['fault-error-rate'],
      error_status: flags['fault-error-status'] as 429 | 500 | 503,
      stall_ms: flags['fault-stall-ms'],
      disconnect_after_tokens: flags['fault-disconnect-after'],
      unhealthy: flags['fault-unhealthy'],
    },
  };
  let sim;
  try {
    sim = await startSimulator(options);
  } catch (err) {
    console.error(`infergate sim: ${startupFailure(err) ?? (err as Error).message}`);
    return 1;
  }
  for (const pod of sim.pods) {
    const kv = pod.kvEvents ? { kvEvents: pod.kvEvents.endpoint, kvEventsReplay: pod.kvEvents.replayEndpoint } : {};
    console.log(JSON.stringify({ msg: 'sim pod listening', pod: pod.name, url: pod.url, model: pod.model, engine: options.engine, ...kv }));
  }
  const signal = await waitForShutdown();
  console.log(JSON.stringify({ msg: 'sim stopping', signal }));
  await sim.close();
  return 0;
}

function help(): string {
  return usage('sim', spec).replace(/\$INFERGATE_/g, '$INFERGATE_SIM_');
}

/** INFERGATE_SIM_<FLAG> variables, renamed to what parseFlags looks up. */
function simEnvironment(): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, val] of Object.entries(environment())) {
    if (k.startsWith('INFERGATE_SIM_')) out[`INFERGATE_${k.slice('INFERGATE_SIM_'.length)}`] = val;
  }
  return out;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, val]) => val !== undefined)) as Partial<T>;
}

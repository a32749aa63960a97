/**
 * The services precise prefix-cache routing needs, chosen from the gateway's
 * options: the engines' block index — with the embedded agent, its own
 * KV-event subscriptions (EmbeddedKvIndex); with a remote agent, a copy kept
 * in step by WatchKvIndex (KvIndexReplica) — and the pods' `/tokenize`
 * (PodTokenizer). Off unless `kvEvents` is set: a profile naming the precise
 * plugins without it falls back to the approximate index and says why.
 */
import { EmbeddedAgentSource } from '../agent/embedded-source.ts';
import { EmbeddedKvIndex } from '../agent/embedded-kv-index.ts';
import { KvIndexReplica } from '../endpoints/kv-index-replica.ts';
import type { EndpointSource, PoolRef } from '../endpoints/types.ts';
import { KvEventsCollector } from '../kvevents/collector.ts';
import type { KvIndexSource } from '../kvevents/index-view.ts';
import type { KvEventTransport } from '../kvevents/transport.ts';
import type { SchedulingServices } from '../scheduling/prompt-tokens.ts';
import { PodTokenizer } from '../tokenize/pod-tokenizer.ts';
import { LocalTokenizer } from '../tokenize/local-tokenizer.ts';

export interface PreciseOptions {
  /** Precise prefix routing: subscribe to the pods' KV events (embedded agent) or follow the remote agent's index. */
  kvEvents?: boolean;
  /** Pods' KV-event PUB port when their entry names none (llm-d's socketPort). */
  kvEventsPort?: number;
  /** Pods' replay port when their entry names none (0/undefined: no replay). */
  kvEventsReplayPort?: number;
  kvEventsTopic?: string;
  /** Wait this long for a pod's /tokenize of a prompt never seen, ms. */
  tokenizeTimeoutMs?: number;
  /** A tokenizer.json to tokenize with in the gateway (its tokenizer_config.json beside it) instead of asking the pods. */
  tokenizer?: string;
  /** With `tokenizer`: the base model names (any other target model is a LoRA adapter). */
  tokenizerBaseModels?: string[];
}

export interface PreciseParts {
  /** The KV-event sockets (Node: ZeroMQ); needed with the embedded agent. */
  kvEventsTransport?: () => Promise<KvEventTransport>;
  fetch?: typeof fetch;
  /** A native SHA-256 for block hashing (Node: node:crypto). */
  sha256?: (data: Uint8Array) => Uint8Array;
  /** How files are read (a local tokenizer.json). */
  files?: { readFileText(path: string): Promise<string | undefined> };
}

/**
 * Fills `services` (the object the scheduler's plugins already hold) for the
 * endpoint source in use; returns what to call on table changes and at close.
 */
export async function openPreciseServices(
  options: PreciseOptions & { agent?: string; agentToken?: string },
  parts: PreciseParts,
  endpoints: EndpointSource,
  services: SchedulingServices,
  log: (line: Record<string, unknown>) => void,
): Promise<{ prepare(pools: readonly PoolRef[]): void; close(): Promise<void> }> {
  if (!options.kvEvents) return { prepare() {}, async close() {} };
  let index: KvIndexSource;
  if (endpoints instanceof EmbeddedAgentSource) {
    if (!parts.kvEventsTransport) throw new Error('KV events need a transport this runtime does not have (ZeroMQ: Node only)');
    const collector = new KvEventsCollector({ transport: await parts.kvEventsTransport(), topic: options.kvEventsTopic ?? '', log });
    index = new EmbeddedKvIndex(endpoints.agent, collector, { port: options.kvEventsPort ?? 5557, replayPort: options.kvEventsReplayPort || undefined });
  } else if (options.agent) {
    index = new KvIndexReplica({ agentUrl: options.agent, token: options.agentToken, log });
  } else {
    throw new Error('KV events need the embedded agent (--endpoints) or a remote agent (--agent)');
  }
  services.kvIndex = index;
  services.sha256 = parts.sha256;
  services.tokenizer = options.tokenizer ? await localTokenizer(options.tokenizer, options.tokenizerBaseModels, parts.files) : new PodTokenizer({ fetch: parts.fetch, timeoutMs: options.tokenizeTimeoutMs });
  return {
    prepare: (pools) => index.prepare?.(pools),
    close: async () => {
      await index.close?.();
    },
  };
}

/** A LocalTokenizer from `path` (a tokenizer.json; tokenizer_config.json is read from the same directory). */
async function localTokenizer(path: string, baseModels: string[] | undefined, files: PreciseParts['files']): Promise<LocalTokenizer> {
  if (!files) throw new Error('this runtime cannot read a local tokenizer.json');
  const dir = path.includes('/') ? path.slice(0, path.lastIndexOf('/') + 1) : '';
  const read = async (file: string) => {
    const text = await files.readFileText(file);
    if (text === undefined) throw new Error(`${file} does not exist`);
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new Error(`${file} is not JSON: ${(err as Error).message}`);
    }
  };
  return new LocalTokenizer({ tokenizerJson: await read(path), tokenizerConfig: await read(`${dir}tokenizer_config.json`), baseModels });
}

/** One request inside the simulated engine. */

export type SequenceState = 'waiting' | 'running' | 'finished' | 'aborted';
export type FinishReason = 'stop' | 'length' | 'abort';

/** What a caller submits: sizes, not text (text is turned into these by ./text.ts). */
export interface SimRequest {
  /** Prompt length in tokens. */
  promptTokens: number;
  /** Chained hashes of the prompt's full KV blocks (for prefix caching); empty disables hits. */
  blockHashes?: readonly number[];
  /** Token ids and 64-bit vLLM hashes of the prompt, when the pod publishes KV events. */
  kv?: SequenceKvInfo;
  /** Tokens to generate; 0 = prefill only (embeddings). */
  outputTokens: number;
  /** True when generation stops because max_tokens was reached (finish_reason "length"). */
  lengthLimited?: boolean;
  /** LoRA adapter name, or undefined for the base model. */
  adapter?: string;
  /** Lower runs first (vLLM priority scheduling); default 0. */
  priority?: number;
  /** Opaque handle for the caller (the HTTP driver keeps its stream here). */
  handle?: unknown;
}

/** What a BlockStored event needs about a request's blocks (blockHashes are derived from `hashes`). */
export interface SequenceKvInfo {
  tokens: Uint32Array;
  /** vLLM's block hashes (low 64 bits), one per full prompt block. */
  hashes: BigUint64Array;
  loraId: number | null;
  loraName: string | null;
}

const NO_HASHES: readonly number[] = [];

export class Sequence {
  readonly id: number;
  readonly promptTokens: number;
  readonly hashes: readonly number[];
  readonly target: number;
  readonly lengthLimited: boolean;
  readonly adapter: string | undefined;
  readonly kv: SequenceKvInfo | undefined;
  readonly priority: number;
  readonly arrivalMs: number;
  handle: unknown;

  state: SequenceState = 'waiting';
  /** Tokens whose KV has been computed (prompt then generated). */
  numComputed = 0;
  /** Tokens generated so far. */
  output = 0;
  /** KV blocks held, in token order. */
  readonly blocks: number[] = [];
  /** Prompt blocks already entered in the prefix cache. */
  registered = 0;
  /** Tokens scheduled in the step in progress. */
  scheduled = 0;
  /** Prompt tokens served from the prefix cache at first admission. */
  cachedTokens = -1;
  preemptions = 0;
  admittedMs = -1;
  firstTokenMs = -1;
  lastTokenMs = -1;
  finishedMs = -1;
  finishReason: FinishReason | null = null;

  constructor(id: number, req: SimRequest, now: number) {
    this.id = id;
    this.promptTokens = Math.max(1, Math.floor(req.promptTokens));
    this.hashes = req.blockHashes ?? NO_HASHES;
    this.target = Math.max(0, Math.floor(req.outputTokens));
    this.lengthLimited = req.lengthLimited ?? false;
    this.adapter = req.adapter || undefined;
    this.kv = req.kv;
    this.priority = req.priority ?? 0;
    this.arrivalMs = now;
    this.handle = req.handle;
  }

  /** Prompt plus generated tokens: what a full recompute would cover. */
  get totalTokens(): number {
    return this.promptTokens + this.output;
  }

  get done(): boolean {
    return this.state === 'finished' || this.state === 'aborted';
  }
}

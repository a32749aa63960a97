/**
 * The kernel's memory layout and codes, shared by the WebAssembly bridge and
 * the TypeScript twin. Sizes must match assembly/index.ts.
 */
export const MAX_ENDPOINTS = 4096;
export const MAX_SCORERS = 8;
export const MAX_FALLBACKS = 8;
export const INPUT_BYTES = 262_144;
export const MODEL_BYTES = 1024;
export const MAX_BLOCKS = 4096;
/** Prefix blocks are 64 bytes of UTF-8 (64 characters of ASCII text). */
export const BLOCK_BYTES = 64;

/** Scorer codes the kernel understands. */
export const ScorerKind = {
  queue: 1,
  runningRequests: 2,
  kvCache: 3,
  loraAffinity: 4,
  prefixCache: 5,
  inFlight: 6,
  /** Estimated prefill work: pending uncached prompt blocks on the endpoint + this prompt's uncached blocks there. */
  prefillWork: 7,
} as const;
export type ScorerKind = (typeof ScorerKind)[keyof typeof ScorerKind];

export const PickerKind = { maxScore: 0, random: 1, weightedRandom: 2 } as const;
export type PickerKind = (typeof PickerKind)[keyof typeof PickerKind];

/** LoRA affinity classes written per endpoint (score 1.0 / 0.8 / 0.6 / 0). */
export const LoraClass = { active: 3, roomToLoad: 2, waiting: 1, none: 0 } as const;

/** Typed views over the kernel's regions; built once per kernel instance. */
export interface KernelViews {
  waiting: Float64Array;
  running: Float64Array;
  kvUsage: Float64Array;
  inFlight: Float64Array;
  prefixMatched: Float64Array;
  loraClass: Int32Array;
  scorerKind: Int32Array;
  scorerWeight: Float64Array;
  /** Scorer-major: scores[k * MAX_ENDPOINTS + i]. */
  scores: Float64Array;
  total: Float64Array;
  /** [picked, fallback 1, …]; -1 pads missing fallbacks. */
  order: Int32Array;
  model: Uint8Array;
  input: Uint8Array;
  /** Block hashes as little-endian u32 pairs: lo at 2j, hi at 2j+1. */
  hashes: Uint32Array;
  /** Pending prefill work per endpoint, in 64-byte prompt blocks (prefill-work scorer). */
  pendingWork: Float64Array;
  /** One parameter per scorer (prefill-work: the smallest cost range that spans a score of 1; 0 = min-max). */
  scorerParam: Float64Array;
}

export interface Kernel extends KernelViews {
  readonly implementation: 'wasm' | 'ts';
  /** See assembly/index.ts `scoreAndPick`. Returns the picked index or -1. */
  scoreAndPick(n: number, scorers: number, promptBlocks: number, picker: number, seed: number, fallbacks: number): number;
  /** See assembly/index.ts `hashPrompt`. Returns the number of blocks hashed. */
  hashPrompt(modelLen: number, promptLen: number, maxBlocks: number): number;
}

/** Build the views from region offsets (in `region(i)` order) over one buffer. */
export function viewsAt(buffer: ArrayBuffer, offset: (region: number) => number): KernelViews {
  const f64 = (r: number, n: number) => new Float64Array(buffer, offset(r), n);
  return {
    waiting: f64(0, MAX_ENDPOINTS),
    running: f64(1, MAX_ENDPOINTS),
    kvUsage: f64(2, MAX_ENDPOINTS),
    inFlight: f64(3, MAX_ENDPOINTS),
    prefixMatched: f64(4, MAX_ENDPOINTS),
    loraClass: new Int32Array(buffer, offset(5), MAX_ENDPOINTS),
    scorerKind: new Int32Array(buffer, offset(6), MAX_SCORERS),
    scorerWeight: f64(7, MAX_SCORERS),
    scores: f64(8, MAX_SCORERS * MAX_ENDPOINTS),
    total: f64(9, MAX_ENDPOINTS),
    order: new Int32Array(buffer, offset(10), MAX_FALLBACKS + 1),
    model: new Uint8Array(buffer, offset(11), MODEL_BYTES),
    input: new Uint8Array(buffer, offset(12), INPUT_BYTES),
    hashes: new Uint32Array(buffer, offset(13), MAX_BLOCKS * 2),
    pendingWork: f64(14, MAX_ENDPOINTS),
    scorerParam: f64(15, MAX_SCORERS),
  };
}

/** Region sizes in bytes, for the twin's own buffer. */
export const REGION_BYTES = [
  MAX_ENDPOINTS * 8, MAX_ENDPOINTS * 8, MAX_ENDPOINTS * 8, MAX_ENDPOINTS * 8, MAX_ENDPOINTS * 8,
  MAX_ENDPOINTS * 4, MAX_SCORERS * 4, MAX_SCORERS * 8, MAX_SCORERS * MAX_ENDPOINTS * 8,
  MAX_ENDPOINTS * 8, (MAX_FALLBACKS + 1) * 4, MODEL_BYTES, INPUT_BYTES, MAX_BLOCKS * 8,
  MAX_ENDPOINTS * 8, MAX_SCORERS * 8,
];

/**
 * The scheduling kernel: per-endpoint scorer arithmetic, the weighted sum,
 * the pick, and chained XXH64 prefix-block hashing. Everything lives in
 * fixed regions of linear memory (struct of arrays, indexed by endpoint);
 * TypeScript builds typed-array views over them once, writes numbers per
 * request and calls one export. Nothing here allocates, so memory never
 * grows and those views stay valid.
 *
 * Keep in lock-step with the TypeScript twin in src/scheduling/kernel/twin.ts
 * (property tests compare the two bit for bit).
 */

import { hashBlock, xxh64 } from './xxh64';

const MAX_ENDPOINTS: i32 = 4096;
const MAX_SCORERS: i32 = 8;
const MAX_FALLBACKS: i32 = 8;
const INPUT_BYTES: i32 = 262144;
const MODEL_BYTES: i32 = 1024;
const MAX_BLOCKS: i32 = 4096;

// Per-endpoint inputs (f64 unless noted).
const WAITING = memory.data(MAX_ENDPOINTS * 8, 16);
const RUNNING = memory.data(MAX_ENDPOINTS * 8, 16);
const KV_USAGE = memory.data(MAX_ENDPOINTS * 8, 16);
const IN_FLIGHT = memory.data(MAX_ENDPOINTS * 8, 16);
const PREFIX_MATCHED = memory.data(MAX_ENDPOINTS * 8, 16);
/** LoRA affinity class per endpoint (i32): 3 active, 2 room to load, 1 waiting, 0 none. */
const LORA_CLASS = memory.data(MAX_ENDPOINTS * 4, 16);
// Profile: scorer kinds (i32) and weights (f64).
const SCORER_KIND = memory.data(MAX_SCORERS * 4, 16);
const SCORER_WEIGHT = memory.data(MAX_SCORERS * 8, 16);
// Outputs: per-scorer scores (scorer-major), totals, picked index then fallbacks.
const SCORES = memory.data(MAX_SCORERS * MAX_ENDPOINTS * 8, 16);
const TOTAL = memory.data(MAX_ENDPOINTS * 8, 16);
const ORDER = memory.data((MAX_FALLBACKS + 1) * 4, 16);
// Hashing: the target model's UTF-8 bytes, the prompt's, and the block hashes (u64).
const MODEL = memory.data(MODEL_BYTES, 16);
const INPUT = memory.data(INPUT_BYTES, 16);
const HASHES = memory.data(MAX_BLOCKS * 8, 16);
// Prefill work (appended after the hashes so earlier region numbers stay put).
const PENDING_WORK = memory.data(MAX_ENDPOINTS * 8, 16);
const SCORER_PARAM = memory.data(MAX_SCORERS * 8, 16);
/** Scratch: the k+1 best totals, best first. */
const BEST = memory.data((MAX_FALLBACKS + 2) * 4, 16);

/** Offsets of the regions, in the order of src/scheduling/kernel/layout.ts `REGIONS`. */
export function region(i: i32): usize {
  switch (i) {
    case 0: return WAITING;
    case 1: return RUNNING;
    case 2: return KV_USAGE;
    case 3: return IN_FLIGHT;
    case 4: return PREFIX_MATCHED;
    case 5: return LORA_CLASS;
    case 6: return SCORER_KIND;
    case 7: return SCORER_WEIGHT;
    case 8: return SCORES;
    case 9: return TOTAL;
    case 10: return ORDER;
    case 11: return MODEL;
    case 12: return INPUT;
    case 13: return HASHES;
    case 14: return PENDING_WORK;
    case 15: return SCORER_PARAM;
    default: return 0;
  }
}

// ---- PRNG: mulberry32, seeded per call so the pick is reproducible. ----
let rngState: u32 = 0;

@inline function nextRandom(): f64 {
  rngState += 0x6d2b79f5;
  let t = rngState;
  t = (t ^ (t >>> 15)) * (t | 1);
  t ^= t + (t ^ (t >>> 7)) * (t | 61);
  return <f64>(t ^ (t >>> 14)) / 4294967296.0;
}

/** Lower is better: min((max − v) × 1/(max − min), 1), all equal → 1. Adds w × score to TOTAL. */
function minMax(column: usize, out: usize, n: i32, w: f64): void {
  let lo2 = f64x2.splat(Infinity), hi2 = f64x2.splat(-Infinity);
  let i = 0;
  for (; i + 1 < n; i += 2) {
    const v = v128.load(column + (<usize>i << 3));
    // pmin/pmax (b < a ? b : a) are single instructions; f64x2.min/max are not.
    lo2 = f64x2.pmin(lo2, v);
    hi2 = f64x2.pmax(hi2, v);
  }
  let lo = f64x2.extract_lane(lo2, 0), hi = f64x2.extract_lane(hi2, 0);
  const lo1 = f64x2.extract_lane(lo2, 1), hi1 = f64x2.extract_lane(hi2, 1);
  if (lo1 < lo) lo = lo1;
  if (hi < hi1) hi = hi1;
  if (i < n) {
    const v = load<f64>(column + (<usize>i << 3));
    if (v < lo) lo = v;
    if (hi < v) hi = v;
  }
  const range = hi - lo;
  const w2 = f64x2.splat(w);
  if (!(range > 0.0)) {
    const one = f64x2.splat(1.0);
    for (let j = 0; j < n; j += 2) {
      v128.store(out + (<usize>j << 3), one);
      const t = TOTAL + (<usize>j << 3);
      v128.store(t, f64x2.add(v128.load(t), f64x2.mul(w2, one)));
    }
    return;
  }
  const inv = 1.0 / range;
  if (!(inv < Infinity)) {
    // A subnormal range: the reciprocal overflows, so divide (never with whole counts).
    for (let j = 0; j < n; j++) {
      const sj = (hi - load<f64>(column + (<usize>j << 3))) / range;
      store<f64>(out + (<usize>j << 3), sj);
      const t = TOTAL + (<usize>j << 3);
      store<f64>(t, load<f64>(t) + w * sj);
    }
    return;
  }
  const hi2b = f64x2.splat(hi), inv2 = f64x2.splat(inv), one = f64x2.splat(1.0);
  // Pairs past n read and write one slot beyond the candidates; nothing reads it back.
  for (let j = 0; j < n; j += 2) {
    const s2 = f64x2.pmin(f64x2.mul(f64x2.sub(hi2b, v128.load(column + (<usize>j << 3))), inv2), one);
    v128.store(out + (<usize>j << 3), s2);
    const t = TOTAL + (<usize>j << 3);
    v128.store(t, f64x2.add(v128.load(t), f64x2.mul(w2, s2)));
  }
}

/** Scores from one column without normalisation; adds w × score to TOTAL. */
function direct(kind: i32, out: usize, n: i32, promptBlocks: i32, w: f64): void {
  const w2 = f64x2.splat(w);
  const zero = f64x2.splat(0.0), one = f64x2.splat(1.0);
  if (kind == 3) {
    for (let j = 0; j < n; j += 2) {
      const s2 = f64x2.pmin(f64x2.pmax(f64x2.sub(one, v128.load(KV_USAGE + (<usize>j << 3))), zero), one);
      v128.store(out + (<usize>j << 3), s2);
      const t = TOTAL + (<usize>j << 3);
      v128.store(t, f64x2.add(v128.load(t), f64x2.mul(w2, s2)));
    }
    return;
  }
  if (kind == 5) {
    // 0 × (1/0) would be NaN: with no prompt blocks the reciprocal is 0.
    const inv = f64x2.splat(promptBlocks > 0 ? 1.0 / <f64>promptBlocks : 0.0);
    for (let j = 0; j < n; j += 2) {
      const s2 = f64x2.pmin(f64x2.pmax(f64x2.mul(v128.load(PREFIX_MATCHED + (<usize>j << 3)), inv), zero), one);
      v128.store(out + (<usize>j << 3), s2);
      const t = TOTAL + (<usize>j << 3);
      v128.store(t, f64x2.add(v128.load(t), f64x2.mul(w2, s2)));
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    let s: f64 = 0.0;
    if (kind == 4) {
      const c = load<i32>(LORA_CLASS + (<usize>i << 2));
      s = c == 3 ? 1.0 : c == 2 ? 0.8 : c == 1 ? 0.6 : 0.0;
    }
    store<f64>(out + (<usize>i << 3), s);
    const t = TOTAL + (<usize>i << 3);
    store<f64>(t, load<f64>(t) + w * s);
  }
}

/**
 * Prefill work, lower is better: cost = PENDING_WORK[i] + (promptBlocks − PREFIX_MATCHED[i]) (the
 * uncached prefill queued on the endpoint plus this prompt's own uncached part there, in blocks);
 * score = 1 − (cost − min) / max(max − min, span), clamped to [0, 1]; all equal (and span 0) → 1.
 * span = 0 is plain min-max; a span keeps tiny differences from counting as a full point.
 */
function prefillWork(out: usize, n: i32, promptBlocks: i32, w: f64, span: f64): void {
  const pb = <f64>promptBlocks;
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < n; i++) {
    const c = load<f64>(PENDING_WORK + (<usize>i << 3)) + (pb - load<f64>(PREFIX_MATCHED + (<usize>i << 3)));
    if (c < lo) lo = c;
    if (hi < c) hi = c;
  }
  let range = hi - lo;
  if (range < span) range = span;
  for (let i = 0; i < n; i++) {
    let s: f64 = 1.0;
    if (range > 0.0) {
      const c = load<f64>(PENDING_WORK + (<usize>i << 3)) + (pb - load<f64>(PREFIX_MATCHED + (<usize>i << 3)));
      s = 1.0 - (c - lo) / range;
      if (s < 0.0) s = 0.0;
      if (1.0 < s) s = 1.0;
    }
    store<f64>(out + (<usize>i << 3), s);
    const t = TOTAL + (<usize>i << 3);
    store<f64>(t, load<f64>(t) + w * s);
  }
}

/**
 * Score n endpoints with the first `scorers` entries of SCORER_KIND/WEIGHT,
 * sum, pick (0 max-score with random tie-break, 1 random, 2 weighted-random),
 * and write ORDER = [picked, up to `fallbacks` next best by total]. Returns
 * the picked index, or -1 when n is 0.
 */
export function scoreAndPick(n: i32, scorers: i32, promptBlocks: i32, picker: i32, seed: u32, fallbacks: i32): i32 {
  if (n <= 0) return -1;
  rngState = seed;
  const zero = f64x2.splat(0.0);
  for (let j = 0; j < n; j += 2) v128.store(TOTAL + (<usize>j << 3), zero);
  for (let k = 0; k < scorers; k++) {
    const out = SCORES + (<usize>(k * MAX_ENDPOINTS) << 3);
    const kind = load<i32>(SCORER_KIND + (<usize>k << 2));
    const w = load<f64>(SCORER_WEIGHT + (<usize>k << 3));
    if (kind == 1) minMax(WAITING, out, n, w);
    else if (kind == 2) minMax(RUNNING, out, n, w);
    else if (kind == 6) minMax(IN_FLIGHT, out, n, w);
    else if (kind == 7) prefillWork(out, n, promptBlocks, w, load<f64>(SCORER_PARAM + (<usize>k << 3)));
    else direct(kind, out, n, promptBlocks, w);
  }
  const k = fallbacks < MAX_FALLBACKS ? fallbacks : MAX_FALLBACKS;
  // One pass keeps the k+1 best (ties to the lower index) and, for max-score, picks.
  let best = -Infinity, chosen = 0, ties: f64 = 0.0, count = 0;
  const k1 = k + 1;
  for (let i = 0; i < n; i++) {
    const t = load<f64>(TOTAL + (<usize>i << 3));
    if (picker == 0) {
      if (t > best) {
        best = t; chosen = i; ties = 1.0;
      } else if (t == best) {
        ties += 1.0;
        if (nextRandom() * ties < 1.0) chosen = i;
      }
    }
    let j = count < k1 ? count : k1;
    while (j > 0) {
      const prev = load<i32>(BEST + (<usize>(j - 1) << 2));
      if (!(t > load<f64>(TOTAL + (<usize>prev << 3)))) break;
      if (j < k1) store<i32>(BEST + (<usize>j << 2), prev);
      j--;
    }
    if (j < k1) {
      store<i32>(BEST + (<usize>j << 2), i);
      if (count < k1) count++;
    }
  }
  const picked = picker == 0 ? chosen : pickRandom(n, picker);
  store<i32>(ORDER, picked);
  let f = 0;
  for (let j = 0; j < count && f < k; j++) {
    const i = load<i32>(BEST + (<usize>j << 2));
    if (i != picked) store<i32>(ORDER + (<usize>(++f) << 2), i);
  }
  for (; f < k; ) store<i32>(ORDER + (<usize>(++f) << 2), -1);
  return picked;
}

function pickRandom(n: i32, picker: i32): i32 {
  if (picker == 1) return <i32>(nextRandom() * <f64>n);
  let sum: f64 = 0.0;
  for (let i = 0; i < n; i++) {
    const t = load<f64>(TOTAL + (<usize>i << 3));
    if (t > 0.0) sum += t;
  }
  const r = nextRandom();
  if (!(sum > 0.0)) return <i32>(r * <f64>n);
  const target = r * sum;
  let acc: f64 = 0.0, last = 0;
  for (let i = 0; i < n; i++) {
    const t = load<f64>(TOTAL + (<usize>i << 3));
    if (t > 0.0) {
      acc += t;
      last = i;
      if (target < acc) return i;
    }
  }
  return last;
}

export { xxh64 } from './xxh64';

/**
 * Chained block hashes of the prompt: seed = XXH64(model bytes), then for
 * each full 64-byte block j, h[j] = XXH64(block j, seed = h[j-1]). Reads
 * MODEL[0..modelLen) and INPUT[0..promptLen), writes HASHES, returns the
 * number of blocks hashed (at most maxBlocks; a trailing partial block is
 * not hashed).
 */
export function hashPrompt(modelLen: i32, promptLen: i32, maxBlocks: i32): i32 {
  const ml = modelLen < MODEL_BYTES ? modelLen : MODEL_BYTES;
  const pl = promptLen < INPUT_BYTES ? promptLen : INPUT_BYTES;
  let blocks = pl >> 6;
  const cap = maxBlocks < MAX_BLOCKS ? maxBlocks : MAX_BLOCKS;
  if (blocks > cap) blocks = cap;
  let h = xxh64(MODEL, ml, 0);
  for (let j = 0; j < blocks; j++) {
    h = hashBlock(INPUT + (<usize>j << 6), h);
    store<u64>(HASHES + (<usize>j << 3), h);
  }
  return blocks;
}

/**
 * The kernel's pure-TypeScript twin: the same regions (in its own
 * ArrayBuffer) and the same functions as assembly/index.ts, operation for
 * operation, so that scores, picks (same seed) and hashes are identical.
 * Used when no compiled kernel is supplied, in property tests and as the
 * benchmark's baseline.
 */
import {
  MAX_BLOCKS, MAX_ENDPOINTS, MAX_FALLBACKS, INPUT_BYTES, MODEL_BYTES, REGION_BYTES, viewsAt, type Kernel, type KernelViews,
} from './layout.ts';
import { resultHi, resultLo, xxh64, xxh64Block } from './xxhash64.ts';

/** mulberry32, the kernel's PRNG. */
class Mulberry32 {
  state = 0;
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1) >>> 0;
    t = (t ^ (t + Math.imul(t ^ (t >>> 7), t | 61))) >>> 0;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

/** The kernel's pmin(pmax(x, 0), 1), i.e. (x < 0 ? 0 : x) then (1 < y ? 1 : y). */
function clamp01(x: number): number {
  const y = x < 0 ? 0 : x;
  return 1 < y ? 1 : y;
}

export class TwinKernel implements Kernel {
  readonly implementation = 'ts' as const;
  readonly waiting!: Float64Array;
  readonly running!: Float64Array;
  readonly kvUsage!: Float64Array;
  readonly inFlight!: Float64Array;
  readonly prefixMatched!: Float64Array;
  readonly loraClass!: Int32Array;
  readonly scorerKind!: Int32Array;
  readonly scorerWeight!: Float64Array;
  readonly scores!: Float64Array;
  readonly total!: Float64Array;
  readonly order!: Int32Array;
  readonly model!: Uint8Array;
  readonly input!: Uint8Array;
  readonly hashes!: Uint32Array;
  readonly pendingWork!: Float64Array;
  readonly scorerParam!: Float64Array;
  readonly #modelWords: Uint32Array;
  readonly #inputWords: Uint32Array;
  readonly #rng = new Mulberry32();
  readonly #best = new Int32Array(MAX_FALLBACKS + 2);

  constructor() {
    const offsets: number[] = [];
    let at = 0;
    for (const bytes of REGION_BYTES) {
      offsets.push(at);
      at += Math.ceil(bytes / 16) * 16;
    }
    const buffer = new ArrayBuffer(at);
    Object.assign(this, viewsAt(buffer, (r) => offsets[r]!) satisfies KernelViews);
    this.#modelWords = new Uint32Array(buffer, this.model.byteOffset, MODEL_BYTES / 4);
    this.#inputWords = new Uint32Array(buffer, this.input.byteOffset, INPUT_BYTES / 4);
  }

  scoreAndPick(n: number, scorers: number, promptBlocks: number, picker: number, seed: number, fallbacks: number): number {
    if (n <= 0) return -1;
    this.#rng.state = seed >>> 0;
    this.total.fill(0, 0, n);
    for (let k = 0; k < scorers; k++) {
      const out = k * MAX_ENDPOINTS;
      const kind = this.scorerKind[k]!;
      const w = this.scorerWeight[k]!;
      if (kind === 1) this.#minMax(this.waiting, out, n, w);
      else if (kind === 2) this.#minMax(this.running, out, n, w);
      else if (kind === 6) this.#minMax(this.inFlight, out, n, w);
      else if (kind === 7) this.#prefillWork(out, n, promptBlocks, w, this.scorerParam[k]!);
      else this.#direct(kind, out, n, promptBlocks, w);
    }
    const k = Math.min(fallbacks, MAX_FALLBACKS);
    const k1 = k + 1;
    const total = this.total, best = this.#best, rng = this.#rng;
    // One pass keeps the k+1 best (ties to the lower index) and, for max-score, picks.
    let top = -Infinity, chosen = 0, ties = 0, count = 0;
    for (let i = 0; i < n; i++) {
      const t = total[i]!;
      if (picker === 0) {
        if (t > top) {
          top = t; chosen = i; ties = 1;
        } else if (t === top) {
          ties += 1;
          if (rng.next() * ties < 1) chosen = i;
        }
      }
      let j = count < k1 ? count : k1;
      while (j > 0) {
        const prev = best[j - 1]!;
        if (!(t > total[prev]!)) break;
        if (j < k1) best[j] = prev;
        j--;
      }
      if (j < k1) {
        best[j] = i;
        if (count < k1) count++;
      }
    }
    const picked = picker === 0 ? chosen : this.#pickRandom(n, picker);
    const order = this.order;
    order[0] = picked;
    let f = 0;
    for (let j = 0; j < count && f < k; j++) if (best[j] !== picked) order[++f] = best[j]!;
    while (f < k) order[++f] = -1;
    return picked;
  }

  /** Lower is better: min((max − v) × 1/(max − min), 1), all equal → 1. Adds w × score to total. */
  #minMax(column: Float64Array, out: number, n: number, w: number): void {
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < n; i++) {
      const v = column[i]!;
      if (v < lo) lo = v;
      if (hi < v) hi = v;
    }
    const range = hi - lo;
    const scores = this.scores, total = this.total;
    if (!(range > 0)) {
      for (let i = 0; i < n; i++) {
        scores[out + i] = 1;
        total[i] = total[i]! + w * 1;
      }
      return;
    }
    const inv = 1 / range;
    if (!(inv < Infinity)) {
      for (let i = 0; i < n; i++) {
        const s = (hi - column[i]!) / range;
        scores[out + i] = s;
        total[i] = total[i]! + w * s;
      }
      return;
    }
    for (let i = 0; i < n; i++) {
      const x = (hi - column[i]!) * inv;
      const s = 1 < x ? 1 : x;
      scores[out + i] = s;
      total[i] = total[i]! + w * s;
    }
  }

  /** See assembly/index.ts prefillWork: cost = pending + (promptBlocks − matched), 1 − (cost − min)/max(range, span). */
  #prefillWork(out: number, n: number, promptBlocks: number, w: number, span: number): void {
    const pending = this.pendingWork, matched = this.prefixMatched, scores = this.scores, total = this.total;
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < n; i++) {
      const c = pending[i]! + (promptBlocks - matched[i]!);
      if (c < lo) lo = c;
      if (hi < c) hi = c;
    }
    let range = hi - lo;
    if (range < span) range = span;
    for (let i = 0; i < n; i++) {
      let s = 1;
      if (range > 0) {
        const c = pending[i]! + (promptBlocks - matched[i]!);
        s = 1 - (c - lo) / range;
        if (s < 0) s = 0;
        if (1 < s) s = 1;
      }
      scores[out + i] = s;
      total[i] = total[i]! + w * s;
    }
  }

  /** Scores from one column without normalisation; adds w × score to total. */
  #direct(kind: number, out: number, n: number, promptBlocks: number, w: number): void {
    const scores = this.scores, total = this.total;
    const inv = promptBlocks > 0 ? 1 / promptBlocks : 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      if (kind === 3) {
        s = clamp01(1 - this.kvUsage[i]!);
      } else if (kind === 5) {
        s = clamp01(this.prefixMatched[i]! * inv);
      } else if (kind === 4) {
        const c = this.loraClass[i]!;
        s = c === 3 ? 1 : c === 2 ? 0.8 : c === 1 ? 0.6 : 0;
      }
      scores[out + i] = s;
      total[i] = total[i]! + w * s;
    }
  }

  #pickRandom(n: number, picker: number): number {
    const total = this.total;
    const rng = this.#rng;
    if (picker === 1) return Math.trunc(rng.next() * n);
    let sum = 0;
    for (let i = 0; i < n; i++) if (total[i]! > 0) sum += total[i]!;
    const r = rng.next();
    if (!(sum > 0)) return Math.trunc(r * n);
    const target = r * sum;
    let acc = 0, last = 0;
    for (let i = 0; i < n; i++) {
      const t = total[i]!;
      if (t > 0) {
        acc += t;
        last = i;
        if (target < acc) return i;
      }
    }
    return last;
  }

  hashPrompt(modelLen: number, promptLen: number, maxBlocks: number): number {
    const ml = Math.min(modelLen, MODEL_BYTES);
    const blocks = Math.min(Math.min(promptLen, INPUT_BYTES) >> 6, Math.min(maxBlocks, MAX_BLOCKS));
    xxh64(this.model, this.#modelWords, 0, ml, 0, 0);
    let sh = resultHi(), sl = resultLo();
    const hashes = this.hashes, words = this.#inputWords;
    for (let j = 0; j < blocks; j++) {
      xxh64Block(words, j << 6, sh, sl);
      sh = resultHi();
      sl = resultLo();
      hashes[2 * j] = sl;
      hashes[2 * j + 1] = sh;
    }
    return blocks;
  }
}

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

function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
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
  readonly #modelWords: Uint32Array;
  readonly #inputWords: Uint32Array;
  readonly #rng = new Mulberry32();

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
    const total = this.total;
    for (let i = 0; i < n; i++) total[i] = 0;
    for (let k = 0; k < scorers; k++) {
      const out = k * MAX_ENDPOINTS;
      this.#scoreColumn(this.scorerKind[k]!, out, n, promptBlocks);
      const w = this.scorerWeight[k]!;
      for (let i = 0; i < n; i++) total[i] = total[i]! + w * this.scores[out + i]!;
    }
    const picked = this.#pick(n, picker);
    this.order[0] = picked;
    this.#topFallbacks(n, picked, Math.min(fallbacks, MAX_FALLBACKS));
    return picked;
  }

  #minMax(column: Float64Array, out: number, n: number): void {
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < n; i++) {
      const v = column[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const range = hi - lo;
    for (let i = 0; i < n; i++) this.scores[out + i] = range > 0 ? clamp01((hi - column[i]!) / range) : 1;
  }

  #scoreColumn(kind: number, out: number, n: number, promptBlocks: number): void {
    if (kind === 1) return this.#minMax(this.waiting, out, n);
    if (kind === 2) return this.#minMax(this.running, out, n);
    if (kind === 6) return this.#minMax(this.inFlight, out, n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      if (kind === 3) {
        s = clamp01(1 - this.kvUsage[i]!);
      } else if (kind === 4) {
        const c = this.loraClass[i]!;
        s = c === 3 ? 1 : c === 2 ? 0.8 : c === 1 ? 0.6 : 0;
      } else if (kind === 5) {
        s = promptBlocks > 0 ? clamp01(this.prefixMatched[i]! / promptBlocks) : 0;
      }
      this.scores[out + i] = s;
    }
  }

  #pick(n: number, picker: number): number {
    const total = this.total;
    const rng = this.#rng;
    if (picker === 1) return Math.trunc(rng.next() * n);
    if (picker === 2) {
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
    let best = -Infinity, chosen = 0, ties = 0;
    for (let i = 0; i < n; i++) {
      const t = total[i]!;
      if (t > best) {
        best = t; chosen = i; ties = 1;
      } else if (t === best) {
        ties += 1;
        if (rng.next() * ties < 1) chosen = i;
      }
    }
    return chosen;
  }

  #topFallbacks(n: number, picked: number, k: number): void {
    const order = this.order, total = this.total;
    let count = 0;
    for (let i = 0; i < n; i++) {
      if (i === picked) continue;
      const t = total[i]!;
      let j = count < k ? count : k;
      while (j > 0) {
        const prev = order[j]!;
        if (!(t > total[prev]!)) break;
        if (j < k) order[j + 1] = prev;
        j--;
      }
      if (j < k) {
        order[j + 1] = i;
        if (count < k) count++;
      }
    }
    for (let j = count; j < k; j++) order[j + 1] = -1;
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

/**
 * The WebAssembly kernel and its TypeScript twin agree bit for bit: scores,
 * totals, picks and fallbacks for the same inputs and seed, and prompt block
 * hashes; both hash like a straightforward BigInt XXH64.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadKernelModule } from '../src/runtime/node/index.ts';
import { BLOCK_BYTES, MAX_ENDPOINTS, type Kernel } from '../src/scheduling/kernel/layout.ts';
import { TwinKernel } from '../src/scheduling/kernel/twin.ts';
import { instantiateKernel } from '../src/scheduling/kernel/wasm.ts';
import { resultHi, resultLo, xxh64 } from '../src/scheduling/kernel/xxhash64.ts';

let module: WebAssembly.Module;
let wasm: Kernel;
const twin = new TwinKernel();

beforeAll(async () => {
  module = await loadKernelModule();
  wasm = instantiateKernel(module);
});

const M = (1n << 64n) - 1n;
const P1 = 0x9e3779b185ebca87n, P2 = 0xc2b2ae3d27d4eb4fn, P3 = 0x165667b19e3779f9n, P4 = 0x85ebca77c2b2ae63n, P5 = 0x27d4eb2f165667c5n;
const rotl = (x: bigint, r: bigint) => ((x << r) | (x >> (64n - r))) & M;
const round = (acc: bigint, v: bigint) => (rotl((acc + v * P2) & M, 31n) * P1) & M;
const u64 = (b: Uint8Array, p: number) => new DataView(b.buffer, b.byteOffset).getBigUint64(p, true);

/** XXH64 as the specification reads, in BigInt. */
function referenceXxh64(b: Uint8Array, seed: bigint): bigint {
  let p = 0, h: bigint;
  const len = b.length;
  if (len >= 32) {
    let v1 = (seed + P1 + P2) & M, v2 = (seed + P2) & M, v3 = seed, v4 = (seed - P1) & M;
    for (; p + 32 <= len; p += 32) {
      v1 = round(v1, u64(b, p)); v2 = round(v2, u64(b, p + 8)); v3 = round(v3, u64(b, p + 16)); v4 = round(v4, u64(b, p + 24));
    }
    h = (rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n)) & M;
    for (const v of [v1, v2, v3, v4]) h = (((h ^ round(0n, v)) * P1) + P4) & M;
  } else {
    h = (seed + P5) & M;
  }
  h = (h + BigInt(len)) & M;
  for (; p + 8 <= len; p += 8) h = (rotl(h ^ round(0n, u64(b, p)), 27n) * P1 + P4) & M;
  if (p + 4 <= len) {
    h = (rotl(h ^ ((BigInt(new DataView(b.buffer, b.byteOffset).getUint32(p, true)) * P1) & M), 23n) * P2 + P3) & M;
    p += 4;
  }
  for (; p < len; p++) h = (rotl(h ^ ((BigInt(b[p]!) * P5) & M), 11n) * P1) & M;
  h ^= h >> 33n; h = (h * P2) & M; h ^= h >> 29n; h = (h * P3) & M; h ^= h >> 32n;
  return h;
}

describe('XXH64', () => {
  it('matches the published vectors', () => {
    expect(referenceXxh64(new Uint8Array(0), 0n)).toBe(0xef46db3751d8e999n);
    expect(referenceXxh64(new TextEncoder().encode('abc'), 0n)).toBe(0x44bc2cf5ad770999n);
  });

  it('twin and wasm agree with the reference for any bytes and seed', () => {
    const raw = new WebAssembly.Instance(module, {}).exports as unknown as { memory: WebAssembly.Memory; region(i: number): number; xxh64(p: number, n: number, s: bigint): bigint };
    const at = raw.region(12) >>> 0;
    const scratch = new Uint8Array(1024);
    const words = new Uint32Array(scratch.buffer);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.bigInt({ min: 0n, max: M }), (bytes, seed) => {
        const expected = referenceXxh64(bytes, seed);
        new Uint8Array(raw.memory.buffer).set(bytes, at);
        expect(BigInt.asUintN(64, raw.xxh64(at, bytes.length, seed))).toBe(expected);
        scratch.set(bytes);
        xxh64(scratch, words, 0, bytes.length, Number(seed >> 32n), Number(seed & 0xffffffffn));
        expect((BigInt(resultHi()) << 32n) | BigInt(resultLo())).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });
});

function hashBoth(model: string, prompt: string, maxBlocks: number): [number[], number[]] {
  const enc = new TextEncoder();
  return [wasm, twin].map((k) => {
    const m = enc.encodeInto(model, k.model).written;
    const p = enc.encodeInto(prompt, k.input.subarray(0, maxBlocks * BLOCK_BYTES)).written;
    const n = k.hashPrompt(m, p, maxBlocks);
    return Array.from(k.hashes.slice(0, 2 * n));
  }) as [number[], number[]];
}

describe('prompt block hashes', () => {
  it('are identical in wasm and twin', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 3000 }), fc.integer({ min: 0, max: 64 }), (model, prompt, maxBlocks) => {
        const [a, b] = hashBoth(model, prompt, maxBlocks);
        expect(a).toEqual(b);
      }),
      { numRuns: 300 },
    );
  });

  it('are chained XXH64 of 64-byte blocks seeded by the model', () => {
    const enc = new TextEncoder();
    const prompt = enc.encode('p'.repeat(64) + 'q'.repeat(64) + 'r'.repeat(10));
    let seed = referenceXxh64(enc.encode('model-x'), 0n);
    const expected: number[] = [];
    for (let j = 0; j < 2; j++) {
      seed = referenceXxh64(prompt.subarray(j * 64, j * 64 + 64), seed);
      expected.push(Number(seed & 0xffffffffn), Number(seed >> 32n));
    }
    expect(hashBoth('model-x', new TextDecoder().decode(prompt), 256)[0]).toEqual(expected);
  });
});

const column = (n: number) => fc.array(fc.oneof(fc.integer({ min: 0, max: 6 }), fc.double({ min: 0, max: 50, noNaN: true })), { minLength: n, maxLength: n });

describe('score and pick', () => {
  it('wasm and twin give identical scores, totals, picks and fallbacks', () => {
    const input = fc.integer({ min: 1, max: 300 }).chain((n) =>
      fc.record({
        n: fc.constant(n),
        waiting: column(n),
        running: column(n),
        kv: fc.array(fc.double({ min: -0.5, max: 1.5, noNaN: true }), { minLength: n, maxLength: n }),
        inFlight: column(n),
        prefix: fc.array(fc.integer({ min: 0, max: 40 }), { minLength: n, maxLength: n }),
        pending: fc.array(fc.oneof(fc.constant(0), fc.double({ min: 0, max: 2000, noNaN: true })), { minLength: n, maxLength: n }),
        lora: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: n, maxLength: n }),
        scorers: fc.array(fc.record({
            kind: fc.integer({ min: 1, max: 7 }),
            weight: fc.oneof(fc.constantFrom(0, 1, 2, 3), fc.double({ min: 0, max: 10, noNaN: true })),
            param: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 500, noNaN: true })),
          }), { minLength: 0, maxLength: 8 }),
        promptBlocks: fc.integer({ min: 0, max: 40 }),
        picker: fc.integer({ min: 0, max: 2 }),
        seed: fc.integer({ min: 0, max: 0xffffffff }),
        fallbacks: fc.integer({ min: 0, max: 8 }),
      }),
    );
    fc.assert(
      fc.property(input, (x) => {
        const results = [wasm, twin].map((k) => {
          k.waiting.set(x.waiting); k.running.set(x.running); k.kvUsage.set(x.kv); k.inFlight.set(x.inFlight);
          k.prefixMatched.set(x.prefix); k.loraClass.set(x.lora); k.pendingWork.set(x.pending);
          x.scorers.forEach((s, i) => { k.scorerKind[i] = s.kind; k.scorerWeight[i] = s.weight; k.scorerParam[i] = s.param; });
          const picked = k.scoreAndPick(x.n, x.scorers.length, x.promptBlocks, x.picker, x.seed, x.fallbacks);
          const scores = x.scorers.map((_, i) => Array.from(k.scores.slice(i * MAX_ENDPOINTS, i * MAX_ENDPOINTS + x.n)));
          return { picked, scores, total: Array.from(k.total.slice(0, x.n)), order: Array.from(k.order.slice(0, x.fallbacks + 1)) };
        });
        expect(results[0]).toEqual(results[1]);
        const r = results[0]!;
        for (const row of r.scores) for (const s of row) expect(s >= 0 && s <= 1).toBe(true);
        if (x.picker === 0) expect(r.total[r.picked]).toBe(Math.max(...r.total));
      }),
      { numRuns: 400 },
    );
  });
});

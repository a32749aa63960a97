import { describe, expect, it } from 'vitest';
import { TwinKernel } from '../../kernel/twin.ts';
import { TokenBlockHasher } from './token-blocks.ts';

/** XXH64 with BigInt, written from the algorithm's specification: an independent reference for the chained block hashes. */
function xxh64(bytes: Uint8Array, seed = 0n): bigint {
  const M = (1n << 64n) - 1n;
  const P1 = 0x9e3779b185ebca87n, P2 = 0xc2b2ae3d27d4eb4fn, P3 = 0x165667b19e3779f9n, P4 = 0x85ebca77c2b2ae63n, P5 = 0x27d4eb2f165667c5n;
  const rotl = (x: bigint, r: bigint) => ((x << r) | (x >> (64n - r))) & M;
  const u64 = (i: number) => { let v = 0n; for (let k = 7; k >= 0; k--) v = (v << 8n) | BigInt(bytes[i + k]!); return v; };
  const u32 = (i: number) => BigInt(bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16)) + (BigInt(bytes[i + 3]!) << 24n);
  const round = (acc: bigint, input: bigint) => (rotl((acc + input * P2) & M, 31n) * P1) & M;
  const merge = (acc: bigint, v: bigint) => (((acc ^ round(0n, v)) * P1 + P4) & M);
  let p = 0, h: bigint;
  const len = bytes.length;
  if (len >= 32) {
    let v1 = (seed + P1 + P2) & M, v2 = (seed + P2) & M, v3 = seed, v4 = (seed - P1) & M;
    for (; p + 32 <= len; p += 32) { v1 = round(v1, u64(p)); v2 = round(v2, u64(p + 8)); v3 = round(v3, u64(p + 16)); v4 = round(v4, u64(p + 24)); }
    h = (rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n)) & M;
    h = merge(merge(merge(merge(h, v1), v2), v3), v4);
  } else h = (seed + P5) & M;
  h = (h + BigInt(len)) & M;
  for (; p + 8 <= len; p += 8) h = ((rotl(h ^ round(0n, u64(p)), 27n) * P1 + P4) & M);
  if (p + 4 <= len) { h = ((rotl(h ^ ((u32(p) * P1) & M), 23n) * P2 + P3) & M); p += 4; }
  for (; p < len; p++) h = ((rotl(h ^ ((BigInt(bytes[p]!) * P5) & M), 11n) * P1) & M);
  h = ((h ^ (h >> 33n)) * P2) & M;
  h = ((h ^ (h >> 29n)) * P3) & M;
  return h ^ (h >> 32n);
}

const le64 = (x: bigint) => { const b = new Uint8Array(8); for (let i = 0; i < 8; i++) b[i] = Number((x >> BigInt(8 * i)) & 0xffn); return b; };

/** llm-d's estimate blocks, by the reference: 4 bytes a token, zero-padded, chained from XXH64(model). */
function reference(prompt: string, model: string, blockTokens: number): bigint[] {
  const utf8 = new TextEncoder().encode(prompt);
  const padded = new Uint8Array(Math.ceil(utf8.length / 4) * 4);
  padded.set(utf8);
  let prev = xxh64(new TextEncoder().encode(model));
  const out: bigint[] = [];
  for (let at = 0; at < padded.length; at += blockTokens * 4) {
    const block = xxh64(padded.subarray(at, Math.min(at + blockTokens * 4, padded.length)));
    const pair = new Uint8Array(16);
    pair.set(le64(block));
    pair.set(le64(prev), 8);
    prev = xxh64(pair);
    out.push(prev);
  }
  return out;
}

function hashes(hasher: TokenBlockHasher, prompt: string, model = 'm'): bigint[] {
  const kernel = new TwinKernel();
  const n = hasher.hash(prompt, model, kernel);
  return Array.from({ length: n }, (_, j) => (BigInt(kernel.hashes[2 * j + 1]!) << 32n) | BigInt(kernel.hashes[2 * j]!));
}

describe("llm-d's token blocks (approx-prefix-cache-producer with blockSizeTokens)", () => {
  it('the reference XXH64 is XXH64', () => {
    expect(xxh64(new Uint8Array())).toBe(0xef46db3751d8e999n);
    expect(xxh64(new TextEncoder().encode('abc'))).toBe(0x44bc2cf5ad770999n);
  });

  it('hashes as the reference does: blocks of at least 64 tokens of 4 bytes, the partial block too, chained from the model', () => {
    const hasher = new TokenBlockHasher({ blockSizeTokens: 16, maxPrefixTokensToMatch: 0, maxPrefixBlocksToMatch: 0 });
    expect(hasher.blockTokens).toBe(64);
    const prompt = 'Ünïcode and ASCII, a system prompt about databases. '.repeat(12);
    const got = hashes(hasher, prompt, 'qwen');
    expect(got).toEqual(reference(prompt, 'qwen', 64));
    expect(got).toHaveLength(Math.ceil(new TextEncoder().encode(prompt).length / 4 / 64));
  });

  it('caps the tokens considered at maxPrefixTokensToMatch', () => {
    const hasher = new TokenBlockHasher({ blockSizeTokens: 64, maxPrefixTokensToMatch: 128, maxPrefixBlocksToMatch: 0 });
    const prompt = 'x'.repeat(4 * 64 * 5);
    expect(hashes(hasher, prompt)).toEqual(reference(prompt.slice(0, 4 * 128), 'm', 64));
  });

  it("rounds the token cap down to whole blocks, as llm-d's resolveMaxBlocks: 100 tokens of 64-token blocks is one block", () => {
    const hasher = new TokenBlockHasher({ blockSizeTokens: 64, maxPrefixTokensToMatch: 100, maxPrefixBlocksToMatch: 0 });
    const prompt = 'q'.repeat(256) + 'r'.repeat(144);
    expect(hasher.maxBlocks).toBe(1);
    expect(hashes(hasher, prompt)).toEqual(reference('q'.repeat(256), 'm', 64));
    expect(hashes(hasher, 'q'.repeat(256) + 'z'.repeat(144))).toEqual(hashes(hasher, prompt));
  });

  it('hashes nothing when the token cap is below one block (llm-d: a misconfiguration, not unlimited)', () => {
    const hasher = new TokenBlockHasher({ blockSizeTokens: 64, maxPrefixTokensToMatch: 63, maxPrefixBlocksToMatch: 0 });
    expect(hashes(hasher, 'x'.repeat(1000))).toEqual([]);
  });

  it('caps by maxPrefixBlocksToMatch only when maxPrefixTokensToMatch is 0', () => {
    const prompt = 'x'.repeat(4 * 64 * 10);
    const withTokens = new TokenBlockHasher({ blockSizeTokens: 64, maxPrefixTokensToMatch: 131_072, maxPrefixBlocksToMatch: 4 });
    expect(hashes(withTokens, prompt)).toEqual(reference(prompt, 'm', 64));
    const blocksOnly = new TokenBlockHasher({ blockSizeTokens: 64, maxPrefixTokensToMatch: 0, maxPrefixBlocksToMatch: 4 });
    expect(hashes(blocksOnly, prompt)).toEqual(reference(prompt.slice(0, 4 * 64 * 4), 'm', 64));
  });

  it('a different tail changes only the last block; a different model every block', () => {
    const hasher = new TokenBlockHasher({ blockSizeTokens: 64, maxPrefixTokensToMatch: 0, maxPrefixBlocksToMatch: 0 });
    const head = 'h'.repeat(256);
    const [a, b, c] = [hashes(hasher, head + 'tail one'), hashes(hasher, head + 'tail two'), hashes(hasher, head + 'tail one', 'other')];
    expect(a[0]).toBe(b[0]);
    expect(a[1]).not.toBe(b[1]);
    expect(c[0]).not.toBe(a[0]);
  });
});

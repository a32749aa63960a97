/**
 * Block hashes against reference values: the `sha256` (pickle) ones were
 * computed with CPython's pickle.dumps(protocol=5) + hashlib.sha256 — the
 * calls vllm/utils/hashing.py makes; the CBOR input is written out by hand
 * from RFC 8949 (what cbor2.dumps(canonical=True) emits for the tuple).
 */
import { describe, expect, it } from 'vitest';
import { BlockHasher, cborBlockInput, digestTo64 } from './block-hash.ts';
import { sha256 } from '@noble/hashes/sha2.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('vLLM block hashing', () => {
  it('sha256 (pickle) matches CPython', () => {
    const h = new BlockHasher({ blockSize: 16, algo: 'sha256', seed: '0' });
    // python: sha256(pickle.dumps("0", protocol=5))
    expect(hex(h.noneHash)).toBe('1973e23848344dc43a988a9b478663803cfffe1243480253f9a3cf004b14aa7c');
    const t1 = Array.from({ length: 16 }, (_, i) => i + 1);
    const d1 = h.hashBlock(null, t1, 0, null); // (NONE_HASH, (1..16), None)
    expect(hex(d1)).toBe('bea72b7d33de03c1aa715efbb492d0e0d3801f00c1f985756896072ae8b31325');
    const t2 = [300, 70000, 5, 2 ** 20, ...Array.from({ length: 12 }, (_, i) => i)];
    expect(hex(h.hashBlock(d1, t2, 0, ['english-bot']))).toBe('2bc42db6f51a970d97f1a4a17218529a41a5d7db7979f2f7044973d7b48fdf74');
  });

  it('sha256_cbor serialises (parent, tokens, extra) as canonical CBOR', () => {
    const parent = new Uint8Array(32).fill(0xab);
    const cbor = cborBlockInput(parent, [0, 23, 24, 255, 256, 65536], 0, 6, ['a']);
    const expected = '83' + '5820' + 'ab'.repeat(32) + '86' + '00' + '17' + '1818' + '18ff' + '190100' + '1a00010000' + '81' + '6161';
    expect(hex(cbor)).toBe(expected);
    expect(hex(cborBlockInput(parent, [1], 0, 1, null))).toBe('83' + '5820' + 'ab'.repeat(32) + '81' + '01' + 'f6');
    // NONE_HASH = sha256(cbor("42")) = sha256(62 34 32)
    const h = new BlockHasher({ blockSize: 1, algo: 'sha256_cbor', seed: '42' });
    expect(hex(h.noneHash)).toBe(hex(sha256(new Uint8Array([0x62, 0x34, 0x32]))));
  });

  it('chains full blocks only, takes the low 64 bits big-endian, and keys LoRA blocks apart', () => {
    const h = new BlockHasher({ blockSize: 4, algo: 'sha256_cbor', seed: '0' });
    const tokens = [1, 2, 3, 4, 5, 6, 7, 8, 9];
    const { digests, hashes } = h.hashes(tokens);
    expect(hashes.length).toBe(2);
    expect(digests[1]).toEqual(h.hashBlock(digests[0]!, tokens, 4, null));
    expect(hashes[1]).toBe(digestTo64(digests[1]!));
    expect(hashes[1]).toBe(BigInt('0x' + hex(digests[1]!.subarray(24))));
    const lora = h.hashes(tokens, { loraName: 'english-bot' }).hashes;
    expect(lora[0]).not.toBe(hashes[0]);
    const salted = h.hashes(tokens, { cacheSalt: 's' });
    expect(salted.digests[0]).toEqual(h.hashBlock(null, tokens, 0, ['s'])); // salt: block 0 only
    expect(salted.digests[1]).toEqual(h.hashBlock(salted.digests[0]!, tokens, 4, null));
    expect(() => new BlockHasher({ blockSize: 4, algo: 'xxhash' as 'sha256', seed: '0' })).toThrow(/not supported/);
  });
});

/** XXH64 (the reference algorithm) and its unrolled 64-byte case, for prompt-block hashing. */
const P1: u64 = 0x9e3779b185ebca87;
const P2: u64 = 0xc2b2ae3d27d4eb4f;
const P3: u64 = 0x165667b19e3779f9;
const P4: u64 = 0x85ebca77c2b2ae63;
const P5: u64 = 0x27d4eb2f165667c5;

@inline function round(acc: u64, input: u64): u64 {
  return rotl<u64>(acc + input * P2, 31) * P1;
}

@inline function mergeRound(acc: u64, v: u64): u64 {
  return (acc ^ round(0, v)) * P1 + P4;
}

@inline function avalanche(h: u64): u64 {
  h ^= h >> 33;
  h *= P2;
  h ^= h >> 29;
  h *= P3;
  return h ^ (h >> 32);
}

/** XXH64 of `len` bytes at `ptr` (reference algorithm, any length). */
export function xxh64(ptr: usize, len: i32, seed: u64): u64 {
  const end = ptr + <usize>len;
  let p = ptr;
  let h: u64;
  if (len >= 32) {
    let v1 = seed + P1 + P2, v2 = seed + P2, v3 = seed, v4 = seed - P1;
    const limit = end - 32;
    while (p <= limit) {
      v1 = round(v1, load<u64>(p));
      v2 = round(v2, load<u64>(p, 8));
      v3 = round(v3, load<u64>(p, 16));
      v4 = round(v4, load<u64>(p, 24));
      p += 32;
    }
    h = rotl<u64>(v1, 1) + rotl<u64>(v2, 7) + rotl<u64>(v3, 12) + rotl<u64>(v4, 18);
    h = mergeRound(h, v1);
    h = mergeRound(h, v2);
    h = mergeRound(h, v3);
    h = mergeRound(h, v4);
  } else {
    h = seed + P5;
  }
  h += <u64>len;
  while (p + 8 <= end) {
    h ^= round(0, load<u64>(p));
    h = rotl<u64>(h, 27) * P1 + P4;
    p += 8;
  }
  if (p + 4 <= end) {
    h ^= <u64>load<u32>(p) * P1;
    h = rotl<u64>(h, 23) * P2 + P3;
    p += 4;
  }
  while (p < end) {
    h ^= <u64>load<u8>(p) * P5;
    h = rotl<u64>(h, 11) * P1;
    p++;
  }
  return avalanche(h);
}

/** XXH64 of exactly 64 bytes: xxh64(ptr, 64, seed) unrolled. */
@inline export function hashBlock(p: usize, seed: u64): u64 {
  let v1 = seed + P1 + P2, v2 = seed + P2, v3 = seed, v4 = seed - P1;
  v1 = round(v1, load<u64>(p));
  v2 = round(v2, load<u64>(p, 8));
  v3 = round(v3, load<u64>(p, 16));
  v4 = round(v4, load<u64>(p, 24));
  v1 = round(v1, load<u64>(p, 32));
  v2 = round(v2, load<u64>(p, 40));
  v3 = round(v3, load<u64>(p, 48));
  v4 = round(v4, load<u64>(p, 56));
  let h = rotl<u64>(v1, 1) + rotl<u64>(v2, 7) + rotl<u64>(v3, 12) + rotl<u64>(v4, 18);
  h = mergeRound(h, v1);
  h = mergeRound(h, v2);
  h = mergeRound(h, v3);
  h = mergeRound(h, v4);
  return avalanche(h + 64);
}


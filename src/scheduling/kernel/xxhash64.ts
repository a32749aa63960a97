/**
 * XXH64 in plain TypeScript for the kernel's twin: 64-bit lanes emulated
 * as (hi, lo) pairs of uint32, results left in the module registers H and L
 * (no allocation, no BigInt). Input is read little-endian through a
 * Uint32Array over the same bytes, so callers pass 4-byte-aligned regions.
 */
let H = 0;
let L = 0;

const P1H = 0x9e3779b1, P1L = 0x85ebca87;
const P2H = 0xc2b2ae3d, P2L = 0x27d4eb4f;
const P3H = 0x165667b1, P3L = 0x9e3779f9;
const P4H = 0x85ebca77, P4L = 0xc2b2ae63;
const P5H = 0x27d4eb2f, P5L = 0x165667c5;
/** 2^64 − P1, so that seed − P1 is an addition. */
const NP1H = 0x61c8864e, NP1L = 0x7a143579;

function mul(ah: number, al: number, bh: number, bl: number): void {
  const a0 = al & 0xffff, a1 = al >>> 16, b0 = bl & 0xffff, b1 = bl >>> 16;
  const p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  L = (((mid & 0xffff) << 16) | (p00 & 0xffff)) >>> 0;
  H = (p11 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16) + Math.imul(al, bh) + Math.imul(ah, bl)) >>> 0;
}

function add(ah: number, al: number, bh: number, bl: number): void {
  const l = al + bl;
  L = l >>> 0;
  H = (ah + bh + (l > 0xffffffff ? 1 : 0)) >>> 0;
}

/** Rotate left by 1..31. */
function rotl(h: number, l: number, r: number): void {
  H = ((h << r) | (l >>> (32 - r))) >>> 0;
  L = ((l << r) | (h >>> (32 - r))) >>> 0;
}

/** acc = rotl(acc + input × P2, 31) × P1 */
function round(ah: number, al: number, ih: number, il: number): void {
  mul(ih, il, P2H, P2L);
  add(ah, al, H, L);
  rotl(H, L, 31);
  mul(H, L, P1H, P1L);
}

/** acc = (acc ^ round(0, v)) × P1 + P4 */
function mergeRound(ah: number, al: number, vh: number, vl: number): void {
  round(0, 0, vh, vl);
  mul((ah ^ H) >>> 0, (al ^ L) >>> 0, P1H, P1L);
  add(H, L, P4H, P4L);
}

function avalanche(h: number, l: number): void {
  l = (l ^ (h >>> 1)) >>> 0;
  mul(h, l, P2H, P2L);
  h = H;
  l = (L ^ ((L >>> 29) | (H << 3))) >>> 0;
  h = (h ^ (h >>> 29)) >>> 0;
  mul(h, l, P3H, P3L);
  L = (L ^ H) >>> 0;
}

/** Four-lane stripe loop plus lane merge, from byte p (multiple of 4) while 32 bytes remain; returns p. */
function stripes(u32: Uint32Array, base: number, p: number, end: number, sh: number, sl: number): number {
  add(sh, sl, P1H, P1L);
  add(H, L, P2H, P2L);
  let v1h = H, v1l = L;
  add(sh, sl, P2H, P2L);
  let v2h = H, v2l = L;
  let v3h = sh, v3l = sl;
  add(sh, sl, NP1H, NP1L);
  let v4h = H, v4l = L;
  while (p + 32 <= end) {
    const w = (base + p) >>> 2;
    round(v1h, v1l, u32[w + 1]!, u32[w]!); v1h = H; v1l = L;
    round(v2h, v2l, u32[w + 3]!, u32[w + 2]!); v2h = H; v2l = L;
    round(v3h, v3l, u32[w + 5]!, u32[w + 4]!); v3h = H; v3l = L;
    round(v4h, v4l, u32[w + 7]!, u32[w + 6]!); v4h = H; v4l = L;
    p += 32;
  }
  rotl(v1h, v1l, 1);
  let hh = H, hl = L;
  rotl(v2h, v2l, 7);
  add(hh, hl, H, L); hh = H; hl = L;
  rotl(v3h, v3l, 12);
  add(hh, hl, H, L); hh = H; hl = L;
  rotl(v4h, v4l, 18);
  add(hh, hl, H, L);
  mergeRound(H, L, v1h, v1l);
  mergeRound(H, L, v2h, v2l);
  mergeRound(H, L, v3h, v3l);
  mergeRound(H, L, v4h, v4l);
  return p;
}

/**
 * XXH64 of bytes [base, base+len) of the buffer behind u8/u32 (base a
 * multiple of 4), seed (sh, sl). Read the result with resultHi/resultLo.
 */
export function xxh64(u8: Uint8Array, u32: Uint32Array, base: number, len: number, sh: number, sl: number): void {
  let p = 0;
  if (len >= 32) {
    p = stripes(u32, base, 0, len, sh, sl);
  } else {
    add(sh, sl, P5H, P5L);
  }
  add(H, L, 0, len);
  while (p + 8 <= len) {
    const hh = H, hl = L;
    const w = (base + p) >>> 2;
    round(0, 0, u32[w + 1]!, u32[w]!);
    rotl((hh ^ H) >>> 0, (hl ^ L) >>> 0, 27);
    mul(H, L, P1H, P1L);
    add(H, L, P4H, P4L);
    p += 8;
  }
  if (p + 4 <= len) {
    const hh = H, hl = L;
    mul(0, u32[(base + p) >>> 2]!, P1H, P1L);
    rotl((hh ^ H) >>> 0, (hl ^ L) >>> 0, 23);
    mul(H, L, P2H, P2L);
    add(H, L, P3H, P3L);
    p += 4;
  }
  while (p < len) {
    const hh = H, hl = L;
    mul(0, u8[base + p]!, P5H, P5L);
    rotl((hh ^ H) >>> 0, (hl ^ L) >>> 0, 11);
    mul(H, L, P1H, P1L);
    p++;
  }
  avalanche(H, L);
}

/** XXH64 of the 64 bytes at byte offset `base` (multiple of 4), same as xxh64(…, 64, …). */
export function xxh64Block(u32: Uint32Array, base: number, sh: number, sl: number): void {
  stripes(u32, base, 0, 64, sh, sl);
  add(H, L, 0, 64);
  avalanche(H, L);
}

/** The last result as [hi, lo] readers (kept as functions so callers copy the numbers out). */
export function resultHi(): number {
  return H;
}
export function resultLo(): number {
  return L;
}

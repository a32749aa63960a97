/**
 * vLLM's prefix-cache block hashes, computed the way the engine computes them
 * (vllm/v1/core/kv_cache_utils.py `hash_block_tokens`, vllm/utils/hashing.py):
 *
 *   hash(block i) = H((hash(block i-1) or NONE_HASH, tuple(token ids of block i), extra_keys))
 *
 * where H serialises the 3-tuple (canonical CBOR for `sha256_cbor`, pickle
 * protocol 5 for `sha256`, vLLM's default) and takes SHA-256. NONE_HASH is
 * H(PYTHONHASHSEED as a string). Only full blocks are hashed. The extra keys
 * are the LoRA name (every block of a LoRA request) then the cache salt (block
 * 0 only); `None` when there are none. Events and the index carry the low 64
 * bits of the digest, big-endian (`maybe_convert_block_hash`,
 * VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES=1, the default).
 *
 * Sources: docs/kv-events.md.
 */
import { sha256 } from '@noble/hashes/sha2.js';

/** `--prefix-caching-hash-algo` values this module reproduces (xxhash ones need XXH3-128; not here). */
export const HASH_ALGOS = ['sha256', 'sha256_cbor'] as const;
export type PrefixCachingHashAlgo = (typeof HASH_ALGOS)[number];

export interface BlockHashConfig {
  blockSize: number;
  algo: PrefixCachingHashAlgo;
  /** PYTHONHASHSEED of the engines (vLLM draws NONE_HASH at random when it is unset). */
  seed: string;
}

/** What goes into one block's extra keys, besides the tokens. */
export interface BlockExtras {
  /** LoRA adapter name (vLLM's `lora_request.lora_name`), on every block. */
  loraName?: string;
  /** Request `cache_salt`, on block 0 only. */
  cacheSalt?: string;
}

const utf8 = new TextEncoder();

/** Serialises (parent, tokens, extra keys) as canonical CBOR (cbor2.dumps(..., canonical=True)). */
export function cborBlockInput(parent: Uint8Array, tokens: ArrayLike<number>, start: number, end: number, extra: readonly string[] | null): Uint8Array {
  const w = new ByteWriter(48 + (end - start) * 5 + extraSize(extra));
  w.u8(0x83);
  cborHead(w, 2, parent.length);
  w.bytes(parent);
  cborHead(w, 4, end - start);
  for (let i = start; i < end; i++) cborHead(w, 0, tokens[i]!);
  if (extra === null) w.u8(0xf6);
  else {
    cborHead(w, 4, extra.length);
    for (const s of extra) {
      const b = utf8.encode(s);
      cborHead(w, 3, b.length);
      w.bytes(b);
    }
  }
  return w.done();
}

/** Serialises the same tuple as `pickle.dumps(obj, protocol=5)` (framed; bytes, tuples and strings memoised). */
export function pickleBlockInput(parent: Uint8Array, tokens: ArrayLike<number>, start: number, end: number, extra: readonly string[] | null): Uint8Array {
  const body = new ByteWriter(48 + (end - start) * 5 + extraSize(extra));
  pickleBytes(body, parent);
  pickleTuple(body, end - start, () => {
    for (let i = start; i < end; i++) pickleInt(body, tokens[i]!);
  });
  if (extra === null) body.u8(0x4e);
  else pickleTuple(body, extra.length, () => extra.forEach((s) => pickleStr(body, s)));
  body.u8(0x87); // TUPLE3
  body.u8(0x94); // MEMOIZE
  return framePickle(body);
}

function framePickle(body: ByteWriter): Uint8Array {
  body.u8(0x2e); // STOP
  const inner = body.done();
  const out = new ByteWriter(inner.length + 11);
  out.u8(0x80);
  out.u8(5); // PROTO 5
  if (inner.length >= 4) {
    out.u8(0x95); // FRAME, 8-byte little-endian length
    out.u32le(inner.length);
    out.u32le(0);
  }
  out.bytes(inner);
  return out.done();
}

function pickleTuple(w: ByteWriter, n: number, items: () => void): void {
  if (n === 0) {
    w.u8(0x29); // EMPTY_TUPLE (not memoised)
    return;
  }
  if (n > 3) w.u8(0x28); // MARK
  items();
  w.u8(n > 3 ? 0x74 : 0x84 + n); // TUPLE or TUPLE1..3
  w.u8(0x94);
}

function pickleBytes(w: ByteWriter, b: Uint8Array): void {
  if (b.length > 0xff) throw new Error('pickleBytes: only short bytes are needed here');
  w.u8(0x43); // SHORT_BINBYTES
  w.u8(b.length);
  w.bytes(b);
  w.u8(0x94);
}

function pickleStr(w: ByteWriter, s: string): void {
  const b = utf8.encode(s);
  if (b.length <= 0xff) {
    w.u8(0x8c); // SHORT_BINUNICODE
    w.u8(b.length);
  } else {
    w.u8(0x58); // BINUNICODE
    w.u32le(b.length);
  }
  w.bytes(b);
  w.u8(0x94);
}

function pickleInt(w: ByteWriter, n: number): void {
  if (n >= 0 && n <= 0xff) {
    w.u8(0x4b); // BININT1
    w.u8(n);
  } else if (n >= 0 && n <= 0xffff) {
    w.u8(0x4d); // BININT2
    w.u8(n & 0xff);
    w.u8(n >>> 8);
  } else if (n >= -0x80000000 && n <= 0x7fffffff) {
    w.u8(0x4a); // BININT
    w.u32le(n >>> 0);
  } else throw new Error(`token id ${n} is outside the 32-bit range`);
}

function cborHead(w: ByteWriter, major: number, n: number): void {
  const m = major << 5;
  if (n < 24) w.u8(m | n);
  else if (n < 0x100) {
    w.u8(m | 24);
    w.u8(n);
  } else if (n < 0x10000) {
    w.u8(m | 25);
    w.u8(n >>> 8);
    w.u8(n & 0xff);
  } else if (n < 0x100000000) {
    w.u8(m | 26);
    w.u32be(n);
  } else {
    w.u8(m | 27);
    w.u32be(Math.floor(n / 0x100000000));
    w.u32be(n >>> 0);
  }
}

function extraSize(extra: readonly string[] | null): number {
  let n = 0;
  if (extra) for (const s of extra) n += s.length * 3 + 6;
  return n;
}

class ByteWriter {
  private buf: Uint8Array;
  private pos = 0;
  constructor(size: number) {
    this.buf = new Uint8Array(size);
  }
  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }
  u8(b: number): void {
    this.room(1);
    this.buf[this.pos++] = b;
  }
  u32le(n: number): void {
    this.room(4);
    const b = this.buf;
    b[this.pos++] = n & 0xff;
    b[this.pos++] = (n >>> 8) & 0xff;
    b[this.pos++] = (n >>> 16) & 0xff;
    b[this.pos++] = n >>> 24;
  }
  u32be(n: number): void {
    this.room(4);
    const b = this.buf;
    b[this.pos++] = n >>> 24;
    b[this.pos++] = (n >>> 16) & 0xff;
    b[this.pos++] = (n >>> 8) & 0xff;
    b[this.pos++] = n & 0xff;
  }
  bytes(src: Uint8Array): void {
    this.room(src.length);
    this.buf.set(src, this.pos);
    this.pos += src.length;
  }
  done(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

/** The serialised form of a bare string (NONE_HASH is H(seed)). */
function serialiseSeed(algo: PrefixCachingHashAlgo, seed: string): Uint8Array {
  if (algo === 'sha256_cbor') {
    const b = utf8.encode(seed);
    const w = new ByteWriter(b.length + 9);
    cborHead(w, 3, b.length);
    w.bytes(b);
    return w.done();
  }
  const w = new ByteWriter(seed.length * 3 + 8);
  pickleStr(w, seed);
  return framePickle(w);
}

/** The low 64 bits of a digest, big-endian, as vLLM's events carry them. */
export function digestTo64(digest: Uint8Array): bigint {
  const v = new DataView(digest.buffer, digest.byteOffset + digest.length - 8, 8);
  return v.getBigUint64(0, false);
}

/**
 * One engine configuration's hasher. `hashes()` returns the chained digests
 * of every full block of `tokens` and their 64-bit forms.
 */
export class BlockHasher {
  readonly config: BlockHashConfig;
  readonly noneHash: Uint8Array;
  private readonly serialise: typeof cborBlockInput;

  private readonly digest: (data: Uint8Array) => Uint8Array;

  /** `digest`: a SHA-256 to use instead of the portable one (Node lends node:crypto's, ~5× faster on 100-byte inputs). */
  constructor(config: BlockHashConfig, digest: (data: Uint8Array) => Uint8Array = sha256) {
    if (!Number.isInteger(config.blockSize) || config.blockSize < 1) throw new Error(`block size must be a positive integer, got ${config.blockSize}`);
    if (!(HASH_ALGOS as readonly string[]).includes(config.algo)) {
      throw new Error(`prefix caching hash algo "${config.algo}" is not supported (use ${HASH_ALGOS.join(' or ')})`);
    }
    this.config = config;
    this.serialise = config.algo === 'sha256_cbor' ? cborBlockInput : pickleBlockInput;
    this.digest = digest;
    this.noneHash = digest(serialiseSeed(config.algo, config.seed));
  }

  /** The digest of one block given its parent's digest (null: the first block). */
  hashBlock(parent: Uint8Array | null, tokens: ArrayLike<number>, start: number, extra: readonly string[] | null): Uint8Array {
    return this.digest(this.serialise(parent ?? this.noneHash, tokens, start, start + this.config.blockSize, extra));
  }

  /**
   * Chained hashes of the full blocks of `tokens`, from `fromBlock` (whose
   * parent digest is `parent`) to the end.
   */
  hashes(tokens: ArrayLike<number>, extras: BlockExtras = {}, fromBlock = 0, parent: Uint8Array | null = null): { digests: Uint8Array[]; hashes: BigUint64Array } {
    const bs = this.config.blockSize;
    const full = Math.floor(tokens.length / bs);
    const digests: Uint8Array[] = [];
    const out = new BigUint64Array(Math.max(0, full - fromBlock));
    const lora = extras.loraName ? [extras.loraName] : [];
    let prev = parent;
    for (let b = fromBlock; b < full; b++) {
      const keys = b === 0 && extras.cacheSalt ? [...lora, extras.cacheSalt] : lora;
      prev = this.hashBlock(prev, tokens, b * bs, keys.length > 0 ? keys : null);
      digests.push(prev);
      out[b - fromBlock] = digestTo64(prev);
    }
    return { digests, hashes: out };
  }
}

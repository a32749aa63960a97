/**
 * msgpack for vLLM's KV-event batches. The encoder writes the bytes msgspec
 * writes for the engine's structs (smallest int formats, float64 `ts`, fields
 * in declaration order, the tag first, defaults omitted where the struct says
 * `omit_defaults`); the decoder (@msgpack/msgpack) reads both event layouts —
 * tagged maps (vLLM ≥ #42892) and tagged arrays (before) — and every hash form
 * (int, uint64, bytes), the way llm-d's kv-cache consumer does.
 */
import { decode } from '@msgpack/msgpack';
import type { BlockRemoved, BlockStored, EventLayout, KvEvent, KvEventBatch } from './events.ts';

const utf8 = new TextEncoder();

class Packer {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  private pos = 0;

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(b: number): void {
    this.room(1);
    this.buf[this.pos++] = b;
  }
  nil(): void {
    this.u8(0xc0);
  }
  float64(x: number): void {
    this.room(9);
    this.buf[this.pos++] = 0xcb;
    this.view.setFloat64(this.pos, x);
    this.pos += 8;
  }
  int(n: number | bigint): void {
    if (typeof n === 'bigint') {
      if (n >= 0n && n <= BigInt(Number.MAX_SAFE_INTEGER)) return this.int(Number(n));
      this.room(9);
      this.buf[this.pos++] = n >= 0n ? 0xcf : 0xd3;
      if (n >= 0n) this.view.setBigUint64(this.pos, n);
      else this.view.setBigInt64(this.pos, n);
      this.pos += 8;
      return;
    }
    if (!Number.isInteger(n)) throw new Error(`not an integer: ${n}`);
    this.room(9);
    const v = this.view;
    if (n >= 0) {
      if (n < 0x80) this.buf[this.pos++] = n;
      else if (n < 0x100) (this.buf[this.pos++] = 0xcc), (this.buf[this.pos++] = n);
      else if (n < 0x10000) (this.buf[this.pos++] = 0xcd), v.setUint16(this.pos, n), (this.pos += 2);
      else if (n < 0x100000000) (this.buf[this.pos++] = 0xce), v.setUint32(this.pos, n), (this.pos += 4);
      else (this.buf[this.pos++] = 0xcf), v.setBigUint64(this.pos, BigInt(n)), (this.pos += 8);
    } else if (n >= -32) this.buf[this.pos++] = n & 0xff;
    else if (n >= -0x80) (this.buf[this.pos++] = 0xd0), v.setInt8(this.pos, n), (this.pos += 1);
    else if (n >= -0x8000) (this.buf[this.pos++] = 0xd1), v.setInt16(this.pos, n), (this.pos += 2);
    else if (n >= -0x80000000) (this.buf[this.pos++] = 0xd2), v.setInt32(this.pos, n), (this.pos += 4);
    else (this.buf[this.pos++] = 0xd3), v.setBigInt64(this.pos, BigInt(n)), (this.pos += 8);
  }
  str(s: string): void {
    const b = utf8.encode(s);
    const n = b.length;
    this.room(n + 5);
    if (n < 32) this.buf[this.pos++] = 0xa0 | n;
    else if (n < 0x100) (this.buf[this.pos++] = 0xd9), (this.buf[this.pos++] = n);
    else if (n < 0x10000) (this.buf[this.pos++] = 0xda), this.view.setUint16(this.pos, n), (this.pos += 2);
    else (this.buf[this.pos++] = 0xdb), this.view.setUint32(this.pos, n), (this.pos += 4);
    this.buf.set(b, this.pos);
    this.pos += n;
  }
  private head(n: number, fix: number, b16: number, b32: number): void {
    this.room(5);
    if (n < 16) this.buf[this.pos++] = fix | n;
    else if (n < 0x10000) (this.buf[this.pos++] = b16), this.view.setUint16(this.pos, n), (this.pos += 2);
    else (this.buf[this.pos++] = b32), this.view.setUint32(this.pos, n), (this.pos += 4);
  }
  array(n: number): void {
    this.head(n, 0x90, 0xdc, 0xdd);
  }
  map(n: number): void {
    this.head(n, 0x80, 0xde, 0xdf);
  }
  optStr(s: string | null | undefined): void {
    if (s == null) this.nil();
    else this.str(s);
  }
  optInt(n: number | bigint | null | undefined): void {
    if (n == null) this.nil();
    else this.int(n);
  }
  any(x: unknown): void {
    if (x == null) this.nil();
    else if (typeof x === 'string') this.str(x);
    else if (typeof x === 'number' || typeof x === 'bigint') this.int(x);
    else if (Array.isArray(x)) {
      this.array(x.length);
      for (const e of x) this.any(e);
    } else throw new Error(`cannot encode extra key ${String(x)}`);
  }
  done(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

type Field = [name: string, write: (p: Packer) => void, omitWhenDefault: boolean];

function storedFields(e: BlockStored): Field[] {
  return [
    ['block_hashes', (p) => (p.array(e.blockHashes.length), e.blockHashes.forEach((h) => p.int(h))), false],
    ['parent_block_hash', (p) => p.optInt(e.parentBlockHash), false],
    ['token_ids', (p) => (p.array(e.tokenIds.length), e.tokenIds.forEach((t) => p.int(t))), false],
    ['block_size', (p) => p.int(e.blockSize), false],
    ['lora_id', (p) => p.optInt(e.loraId), false],
    ['medium', (p) => p.optStr(e.medium), false],
    ['lora_name', (p) => p.optStr(e.loraName), false],
    ['extra_keys', (p) => p.any(e.extraKeys ?? null), e.extraKeys == null],
    ['group_idx', (p) => p.optInt(e.groupIdx), e.groupIdx == null],
    ['kv_cache_spec_kind', (p) => p.optStr(e.kvCacheSpecKind), e.kvCacheSpecKind == null],
    ['kv_cache_spec_sliding_window', (p) => p.optInt(e.kvCacheSpecSlidingWindow), e.kvCacheSpecSlidingWindow == null],
  ];
}

function removedFields(e: BlockRemoved): Field[] {
  return [
    ['block_hashes', (p) => (p.array(e.blockHashes.length), e.blockHashes.forEach((h) => p.int(h))), false],
    ['medium', (p) => p.optStr(e.medium), false],
    ['group_idx', (p) => p.optInt(e.groupIdx), e.groupIdx == null],
  ];
}

function packEvent(p: Packer, e: KvEvent, layout: EventLayout): void {
  const fields = e.type === 'BlockStored' ? storedFields(e) : e.type === 'BlockRemoved' ? removedFields(e) : [];
  if (layout === 'map') {
    const kept = fields.filter((f) => !f[2]);
    p.map(kept.length + 1);
    p.str('type');
    p.str(e.type);
    for (const [name, write] of kept) p.str(name), write(p);
    return;
  }
  // msgspec thins an array_like struct only from the end: a default before a set field stays.
  let n = fields.length;
  while (n > 0 && fields[n - 1]![2]) n--;
  p.array(n + 1);
  p.str(e.type);
  for (let i = 0; i < n; i++) fields[i]![1](p);
}

/** One batch as vLLM's publisher puts it on the wire: `[ts, [events...], data_parallel_rank]`. */
export function encodeBatch(batch: KvEventBatch, layout: EventLayout = 'map'): Uint8Array {
  const p = new Packer();
  p.array(batch.dataParallelRank == null ? 2 : 3);
  p.float64(batch.ts);
  p.array(batch.events.length);
  for (const e of batch.events) packEvent(p, e, layout);
  if (batch.dataParallelRank != null) p.int(batch.dataParallelRank);
  return p.done();
}

/** A payload that is not a KV-event batch. */
export class KvEventDecodeError extends Error {}

/** Reads a batch; unknown event types are skipped (newer engines add them), malformed ones throw. */
export function decodeBatch(payload: Uint8Array): KvEventBatch {
  let raw: unknown;
  try {
    raw = decode(payload, { useBigInt64: true });
  } catch (err) {
    throw new KvEventDecodeError(`not msgpack: ${(err as Error).message}`);
  }
  let ts: unknown, events: unknown, rank: unknown;
  if (Array.isArray(raw)) [ts, events, rank] = raw;
  else if (raw && typeof raw === 'object') ({ ts, events, data_parallel_rank: rank } = raw as Record<string, unknown>);
  if (typeof ts === 'bigint') ts = Number(ts);
  if (typeof ts !== 'number' || !Array.isArray(events)) throw new KvEventDecodeError('not a KV-event batch: expected [ts, events, data_parallel_rank]');
  const out: KvEvent[] = [];
  for (const e of events) {
    const ev = readEvent(e);
    if (ev) out.push(ev);
  }
  return { ts, events: out, dataParallelRank: rank == null ? null : Number(rank) };
}

const STORED_ORDER = ['block_hashes', 'parent_block_hash', 'token_ids', 'block_size', 'lora_id', 'medium', 'lora_name', 'extra_keys', 'group_idx', 'kv_cache_spec_kind', 'kv_cache_spec_sliding_window'];
const REMOVED_ORDER = ['block_hashes', 'medium', 'group_idx'];

function readEvent(raw: unknown): KvEvent | undefined {
  let tag: unknown;
  let f: Record<string, unknown>;
  if (Array.isArray(raw)) {
    tag = raw[0];
    const order = tag === 'BlockStored' ? STORED_ORDER : tag === 'BlockRemoved' ? REMOVED_ORDER : [];
    f = {};
    order.forEach((name, i) => (f[name] = raw[i + 1]));
  } else if (raw && typeof raw === 'object') {
    f = raw as Record<string, unknown>;
    tag = f.type;
  } else throw new KvEventDecodeError('an event is neither a tagged map nor a tagged array');
  if (tag === 'AllBlocksCleared') return { type: 'AllBlocksCleared' };
  if (tag !== 'BlockStored' && tag !== 'BlockRemoved') {
    if (typeof tag !== 'string') throw new KvEventDecodeError('an event has no string tag');
    return undefined;
  }
  if (!Array.isArray(f.block_hashes)) throw new KvEventDecodeError(`${tag}.block_hashes is not a list`);
  const blockHashes = f.block_hashes.map((h) => toHash(h, `${tag}.block_hashes`));
  const medium = typeof f.medium === 'string' ? f.medium : null;
  const groupIdx = f.group_idx == null ? null : Number(f.group_idx);
  if (tag === 'BlockRemoved') return { type: 'BlockRemoved', blockHashes, medium, groupIdx };
  const tokens = f.token_ids;
  if (!Array.isArray(tokens)) throw new KvEventDecodeError('BlockStored.token_ids is not a list');
  return {
    type: 'BlockStored',
    blockHashes,
    parentBlockHash: f.parent_block_hash == null ? null : toHash(f.parent_block_hash, 'BlockStored.parent_block_hash'),
    tokenIds: tokens.map(Number),
    blockSize: Number(f.block_size),
    loraId: f.lora_id == null ? null : Number(f.lora_id),
    medium,
    loraName: typeof f.lora_name === 'string' ? f.lora_name : null,
    extraKeys: Array.isArray(f.extra_keys) ? (f.extra_keys as (unknown[] | null)[]) : null,
    groupIdx,
    kvCacheSpecKind: typeof f.kv_cache_spec_kind === 'string' ? f.kv_cache_spec_kind : null,
    kvCacheSpecSlidingWindow: f.kv_cache_spec_sliding_window == null ? null : Number(f.kv_cache_spec_sliding_window),
  };
}

/** Any hash form → its unsigned low 64 bits (bytes: the last 8, big-endian, as vLLM converts). */
function toHash(h: unknown, where: string): bigint {
  if (typeof h === 'bigint') return BigInt.asUintN(64, h);
  if (typeof h === 'number' && Number.isInteger(h)) return BigInt.asUintN(64, BigInt(h));
  if (h instanceof Uint8Array && h.length > 0) {
    let v = 0n;
    for (let i = Math.max(0, h.length - 8); i < h.length; i++) v = (v << 8n) | BigInt(h[i]!);
    return v;
  }
  throw new KvEventDecodeError(`${where} holds ${typeof h}, not a hash`);
}

/**
 * The codec against msgpack bytes written out by hand from vLLM's struct
 * definitions (vllm/distributed/kv_events.py): EventBatch is array_like
 * `[ts, events, data_parallel_rank]`; since vLLM #42892 each event is a map
 * with the tag under "type" first, required fields always present (nil when
 * None), defaulted fields omitted when default; before, a tagged array.
 */
import { describe, expect, it } from 'vitest';
import { decodeBatch, encodeBatch } from './codec.ts';
import type { KvEventBatch } from './events.ts';

/** Bytes from hex pairs and 'quoted ascii' pieces. */
function bytes(...parts: string[]): Uint8Array {
  const out: number[] = [];
  for (const p of parts) {
    for (const tok of p.match(/'[^']*'|[0-9a-f]{2}/gi) ?? []) {
      if (tok.startsWith("'")) for (const ch of tok.slice(1, -1)) out.push(ch.charCodeAt(0));
      else out.push(parseInt(tok, 16));
    }
  }
  return new Uint8Array(out);
}

const BIG = 0xda7c_1e55_0000_0001n; // ≥ 2^63: msgspec writes uint64 (0xcf)

const batch: KvEventBatch = {
  ts: 1.5,
  dataParallelRank: 0,
  events: [
    { type: 'BlockStored', blockHashes: [1n, BIG], parentBlockHash: null, tokenIds: [1, 300], blockSize: 1, loraId: null, medium: 'GPU', loraName: null, groupIdx: 0 },
    { type: 'BlockRemoved', blockHashes: [BIG], medium: 'GPU' },
    { type: 'AllBlocksCleared' },
  ],
};

const MAP_BYTES = bytes(
  '93', // [ts, events, dp rank]
  'cb 3f f8 00 00 00 00 00 00', // 1.5 as float64
  '93',
  '89', "a4 'type'", "ab 'BlockStored'",
  "ac 'block_hashes'", '92 01 cf da 7c 1e 55 00 00 00 01',
  "b1 'parent_block_hash'", 'c0',
  "a9 'token_ids'", '92 01 cd 01 2c',
  "aa 'block_size'", '01',
  "a7 'lora_id'", 'c0',
  "a6 'medium'", "a3 'GPU'",
  "a9 'lora_name'", 'c0',
  "a9 'group_idx'", '00',
  '83', "a4 'type'", "ac 'BlockRemoved'",
  "ac 'block_hashes'", '91 cf da 7c 1e 55 00 00 00 01',
  "a6 'medium'", "a3 'GPU'",
  '81', "a4 'type'", "b0 'AllBlocksCleared'",
  '00',
);

const ARRAY_BYTES = bytes(
  '93', 'cb 3f f8 00 00 00 00 00 00', '93',
  '9a', "ab 'BlockStored'", '92 01 cf da 7c 1e 55 00 00 00 01', 'c0', '92 01 cd 01 2c', '01', 'c0', "a3 'GPU'", 'c0', 'c0', '00',
  '93', "ac 'BlockRemoved'", '91 cf da 7c 1e 55 00 00 00 01', "a3 'GPU'",
  '91', "b0 'AllBlocksCleared'",
  '00',
);

describe('KV-event codec', () => {
  it('encodes a batch byte for byte as msgspec does (map events)', () => {
    expect(Buffer.from(encodeBatch(batch, 'map')).toString('hex')).toBe(Buffer.from(MAP_BYTES).toString('hex'));
  });

  it('encodes the legacy array layout (a default before a set field stays, as nil)', () => {
    expect(Buffer.from(encodeBatch(batch, 'array')).toString('hex')).toBe(Buffer.from(ARRAY_BYTES).toString('hex'));
  });

  it('decodes both layouts to the same events', () => {
    for (const b of [MAP_BYTES, ARRAY_BYTES]) {
      const d = decodeBatch(b);
      expect(d.ts).toBe(1.5);
      expect(d.dataParallelRank).toBe(0);
      expect(d.events.map((e) => e.type)).toEqual(['BlockStored', 'BlockRemoved', 'AllBlocksCleared']);
      const s = d.events[0]!;
      if (s.type !== 'BlockStored') throw new Error('first event');
      expect(s.blockHashes).toEqual([1n, BIG]);
      expect(s.tokenIds).toEqual([1, 300]);
      expect(s.medium).toBe('GPU');
      expect(s.parentBlockHash).toBeNull();
    }
  });

  it('reads hashes published as bytes (VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES=0) by their last 8 bytes', () => {
    const digest = '00'.repeat(24) + ' da 7c 1e 55 00 00 00 01';
    const b = bytes('92 cb 3f f8 00 00 00 00 00 00 91', '82', "a4 'type'", "ac 'BlockRemoved'", "ac 'block_hashes'", '91 c4 20', digest);
    const e = decodeBatch(b).events[0]!;
    expect(e.type === 'BlockRemoved' && e.blockHashes).toEqual([BIG]);
  });

  it('skips event types it does not know and rejects what is not a batch', () => {
    const b = bytes('92 cb 3f f8 00 00 00 00 00 00 91', '81', "a4 'type'", "ad 'BlockMigrated'");
    expect(decodeBatch(b).events).toEqual([]);
    expect(() => decodeBatch(bytes('c1'))).toThrow(/not msgpack/);
    expect(() => decodeBatch(bytes("a3 'abc'"))).toThrow(/not a KV-event batch/);
  });
});

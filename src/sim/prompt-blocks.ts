/**
 * A prompt's KV blocks as the engine caches them. With KV events on, block
 * identity is vLLM's: chained hashes over the simulator's token ids (the
 * configured algorithm, the LoRA name as extra key), so the hashes a pod
 * publishes are the ones a gateway computes from `/tokenize`. Without, the
 * cheaper character hash of text.ts keeps the hot path as it was.
 */
import type { BlockHasher } from '../kvevents/block-hash.ts';
import type { SequenceKvInfo } from './sequence.ts';
import { blockHashes } from './text.ts';
import { tokenize } from './tokenizer.ts';

export interface PodKvHashing {
  hasher: BlockHasher;
  /** vLLM's lora_int_id per adapter name, in the order adapters were first used. */
  loraIds: Map<string, number>;
}

export function promptBlocks(text: string, blockSize: number, adapter: string | undefined, kv: PodKvHashing | undefined): { blockHashes: number[]; kv?: SequenceKvInfo } {
  if (!kv) return { blockHashes: blockHashes(text, blockSize, adapter ?? '') };
  const tokens = tokenize(text);
  const { hashes } = kv.hasher.hashes(tokens, adapter ? { loraName: adapter } : {});
  // The engine's cache keys: the 64-bit hash folded to 53 bits (a Map key without BigInt).
  const keys = new Array<number>(hashes.length);
  const halves = new Uint32Array(hashes.buffer, hashes.byteOffset, hashes.length * 2);
  for (let i = 0; i < hashes.length; i++) keys[i] = (halves[2 * i + 1]! & 0x1fffff) * 0x100000000 + halves[2 * i]!;
  let loraId: number | null = null;
  if (adapter) {
    loraId = kv.loraIds.get(adapter) ?? kv.loraIds.size + 1;
    kv.loraIds.set(adapter, loraId);
  }
  return { blockHashes: keys, kv: { tokens, hashes, loraId, loraName: adapter ?? null } };
}

/**
 * Simulated-time mode's KV events: each simulated engine's cache tells what
 * it stores and evicts (the same observer hooks the simulator's ZMQ
 * publisher uses), and the pool's precise index applies it `delayMs` of
 * simulated time later — the step's end, the publish, the agent and the
 * stream to the gateway. Keys are the engines' own block keys (64-character
 * blocks = 16 tokens, as the engines cache them), which the scheduler gets
 * for each request through SchedulingServices.blockHashes.
 */
import { KvBlockIndex } from '../../../src/kvevents/block-index.ts';
import type { KvIndexSource, KvPoolRef, PoolKvIndexView } from '../../../src/kvevents/index-view.ts';
import type { SimEngine } from '../../../src/sim/engine.ts';

interface Pending {
  at: number;
  pod: string;
  kind: 'stored' | 'removed' | 'cleared';
  keys: bigint[];
}

export class SimKvIndex implements KvIndexSource {
  /** One index for the run (pod ids are unique across pools). */
  readonly index = new KvBlockIndex(1 << 16);
  #pending: Pending[] = [];
  #attached = false;
  #updatedAt = 0;

  constructor(
    private readonly now: () => number,
    readonly delayMs = 10,
  ) {}

  /** Subscribes to every engine's cache (once per run). */
  attach(pods: readonly { id: string; engine: SimEngine }[]): void {
    if (this.#attached) return;
    this.#attached = true;
    for (const { id, engine } of pods) {
      const held = new Float64Array(engine.config.numGpuBlocks).fill(-1);
      this.index.podSlot(id);
      engine.kvObserver = {
        stored: (seq, from, to) => {
          const keys: bigint[] = [];
          for (let b = from; b < to; b++) {
            held[seq.blocks[b]!] = seq.hashes[b]!;
            keys.push(BigInt(seq.hashes[b]!));
          }
          this.#pending.push({ at: this.now() + this.delayMs, pod: id, kind: 'stored', keys });
        },
        stepDone: () => {},
      };
      engine.kv.observer = {
        evicted: (block) => {
          const key = held[block]!;
          held[block] = -1;
          if (key >= 0) this.#pending.push({ at: this.now() + this.delayMs, pod: id, kind: 'removed', keys: [BigInt(key)] });
        },
        cleared: () => {
          held.fill(-1);
          this.#pending.push({ at: this.now() + this.delayMs, pod: id, kind: 'cleared', keys: [] });
        },
      };
    }
  }

  view(_pool: KvPoolRef): PoolKvIndexView {
    const now = this.now();
    let k = 0;
    for (; k < this.#pending.length && this.#pending[k]!.at <= now; k++) {
      const p = this.#pending[k]!;
      if (p.kind === 'stored') this.index.store(p.pod, p.keys);
      else if (p.kind === 'removed') this.index.remove(p.pod, p.keys);
      else this.index.clearPod(p.pod);
      this.#updatedAt = p.at;
    }
    if (k > 0) this.#pending = this.#pending.slice(k);
    const index = this.index;
    return { lookup: (h, pods) => index.lookup(h, pods), updatedAt: this.#updatedAt, syncedAt: now };
  }

  whyNot(): string {
    return '';
  }
}

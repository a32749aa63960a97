/**
 * GPU slots for LoRA adapters: at most `maxLoras` resident, least recently
 * used evicted first (never one the batch is using). Loading costs the cold
 * time the first time an adapter is used, the warm time (from CPU memory)
 * after it has been evicted.
 */
export class LoraSlots {
  readonly capacity: number;
  /** Resident adapters, least recently used first. */
  private resident: string[] = [];
  private readonly seen = new Set<string>();
  /** Total time spent loading (ms). */
  loadMs = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** Adapters currently in GPU slots. */
  get loaded(): readonly string[] {
    return this.resident;
  }

  /** Puts `adapter` in a slot if needed; returns the time that took (ms). */
  ensureLoaded(adapter: string, inUse: ReadonlyMap<string, number>, cost: { loraColdLoadMs: number; loraWarmLoadMs: number }): number {
    const at = this.resident.indexOf(adapter);
    if (at >= 0) {
      if (at !== this.resident.length - 1) {
        this.resident.splice(at, 1);
        this.resident.push(adapter);
      }
      return 0;
    }
    if (this.resident.length >= this.capacity) {
      const evict = this.resident.findIndex((a) => !inUse.has(a));
      this.resident.splice(evict >= 0 ? evict : 0, 1);
    }
    this.resident.push(adapter);
    const ms = this.seen.has(adapter) ? cost.loraWarmLoadMs : cost.loraColdLoadMs;
    this.seen.add(adapter);
    this.loadMs += ms;
    return ms;
  }

  /** Pre-loads adapters at start (no cost), e.g. the ones named on the command line. */
  preload(adapters: readonly string[]): void {
    for (const a of adapters) {
      this.seen.add(a);
      if (this.resident.length < this.capacity && !this.resident.includes(a)) this.resident.push(a);
    }
  }

  /** Forgets an adapter (unload_lora_adapter): it will be a cold load next time. */
  forget(adapter: string): void {
    this.seen.delete(adapter);
    const at = this.resident.indexOf(adapter);
    if (at >= 0) this.resident.splice(at, 1);
  }
}

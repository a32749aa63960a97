/**
 * A deterministic, clock-driven model of a vLLM V1 engine: continuous
 * batching under a token budget with chunked prefill, a paged KV cache with
 * prefix caching, recompute preemption and LoRA slots. It never reads a clock
 * or sets a timer: callers pass the time in (ms) — the HTTP driver from a real
 * clock, a benchmark harness from a simulated one.
 *
 * @example
 * const engine = new SimEngine(resolveEngineConfig(), { onToken, onFinish });
 * engine.submit({ promptTokens: 200, outputTokens: 100 }, 0);
 * engine.advanceTo(1_000); // runs every step that ends by t = 1 s
 */
import type { EngineConfig } from './config.ts';
import { KvCache } from './kv-cache.ts';
import { EngineStats } from './stats.ts';
import { Sequence, type SimRequest } from './sequence.ts';
import { LoraSlots } from './lora-slots.ts';
import { batchCost } from './step-time.ts';

export interface EngineListener {
  /** A token was generated for `seq` (seq.output counts them) at time `now`. */
  onToken?(seq: Sequence, now: number): void;
  /** `seq` finished (generated its target, or was aborted) at `now`. */
  onFinish?(seq: Sequence, now: number): void;
}

/** Told when blocks enter the prefix cache and when a step ends (the simulator's KV-event recorder). */
export interface EngineKvObserver {
  /** Blocks [from, to) of `seq`'s prompt were cached, in one chain. */
  stored(seq: Sequence, from: number, to: number): void;
  /** A step ended: events gathered during it leave as one batch (vLLM publishes per step). */
  stepDone(): void;
}

export class SimEngine {
  kvObserver: EngineKvObserver | undefined;
  readonly config: EngineConfig;
  readonly kv: KvCache;
  readonly stats = new EngineStats();
  readonly lora: LoraSlots;
  /** Engine time (ms): the start of the step in progress, or of the next one. */
  now = 0;
  /** End of the step in progress, or -1 when idle. */
  stepEnd = -1;
  private listener: EngineListener;
  private nextId = 1;
  private readonly running: Sequence[] = [];
  private waiting: Sequence[] = [];
  private wHead = 0;
  private readonly batch: Sequence[] = [];
  /** Running sequences per adapter: the batch's distinct adapters are its keys. */
  readonly runningAdapters = new Map<string, number>();
  readonly waitingAdapters = new Map<string, number>();

  constructor(config: EngineConfig, listener: EngineListener = {}) {
    this.config = config;
    this.listener = listener;
    this.kv = new KvCache(config.numGpuBlocks, config.blockSize);
    this.lora = new LoraSlots(config.maxLoras);
  }

  setListener(listener: EngineListener): void {
    this.listener = listener;
  }

  get numWaiting(): number {
    return this.waiting.length - this.wHead;
  }

  get numRunning(): number {
    return this.running.length;
  }

  /** Queues a request at time `now` (ms). It runs from the next step on. */
  submit(req: SimRequest, now: number): Sequence {
    const seq = new Sequence(this.nextId++, req, now);
    if (this.stepEnd < 0 && now > this.now) this.now = now;
    this.enqueue(seq);
    return seq;
  }

  /** Drops a request (client went away). Its blocks are freed at once. */
  abort(seq: Sequence, now: number): void {
    if (seq.done) return;
    if (seq.state === 'waiting') {
      const i = this.waiting.indexOf(seq, this.wHead);
      if (i >= 0) this.waiting.splice(i, 1);
      this.countAdapter(this.waitingAdapters, seq.adapter, -1);
    } else {
      const i = this.running.indexOf(seq);
      if (i >= 0) this.running.splice(i, 1);
      this.countAdapter(this.runningAdapters, seq.adapter, -1);
    }
    this.kv.release(seq.blocks);
    seq.state = 'aborted';
    seq.finishReason = 'abort';
    seq.finishedMs = now;
    this.stats.aborted++;
    this.listener.onFinish?.(seq, now);
  }

  /** When something next happens: the end of the running step, `now` if work waits, else Infinity. */
  nextEventTime(): number {
    if (this.stepEnd >= 0) return this.stepEnd;
    return this.running.length > 0 || this.numWaiting > 0 ? this.now : Infinity;
  }

  /**
   * Runs every step that ends by `t`, then starts the next one if there is
   * work; returns its end (or -1 when idle). `advanceTo(Infinity)` drains.
   */
  advanceTo(t: number): number {
    for (;;) {
      if (this.stepEnd >= 0) {
        if (this.stepEnd > t) return this.stepEnd;
        this.now = this.stepEnd;
        this.completeStep();
      }
      if (this.startStep() === 0) {
        if (t > this.now && t !== Infinity) this.now = t;
        return -1;
      }
    }
  }

  /** Plans one step at `this.now`: picks the batch and returns its duration (0 when idle). */
  startStep(): number {
    const cfg = this.config;
    const batch = this.batch;
    batch.length = 0;
    let budget = cfg.maxBatchedTokens;
    let preempted = false;
    for (let i = 0; i < this.running.length && budget > 0; i++) {
      const seq = this.running[i]!;
      const numNew = Math.min(seq.totalTokens - seq.numComputed, budget);
      while (!this.reserve(seq, seq.numComputed + numNew)) {
        const victim = this.pickVictim(i);
        this.preempt(victim);
        preempted = true;
        if (victim === seq) break;
      }
      if (seq.state !== 'running') break;
      seq.scheduled = numNew;
      budget -= numNew;
      batch.push(seq);
    }
    if (!preempted) budget = this.admitWaiting(budget);
    if (batch.length === 0) {
      this.stepEnd = -1;
      return 0;
    }
    const duration = this.stepDuration();
    this.stepEnd = this.now + duration;
    this.stats.steps++;
    this.stats.busyMs += duration;
    return duration;
  }

  /** Applies the step in progress at its end time: KV computed, tokens emitted, requests finished. */
  completeStep(): void {
    const now = this.stepEnd;
    this.now = now;
    this.stepEnd = -1;
    const bs = this.config.blockSize;
    let finished = 0;
    for (const seq of this.batch) {
      if (seq.state !== 'running') continue;
      seq.numComputed += seq.scheduled;
      seq.scheduled = 0;
      if (seq.registered < seq.hashes.length && this.config.prefixCaching) {
        const full = Math.min(Math.floor(seq.numComputed / bs), seq.hashes.length);
        const obs = this.kvObserver;
        let run = -1; // first block of the run of blocks cached by this loop
        for (let b = seq.registered; b < full; b++) {
          const cached = this.kv.register(seq.blocks[b]!, seq.hashes[b]!);
          if (cached && run < 0) run = b;
          else if (!cached && run >= 0) obs?.stored(seq, run, b), (run = -1);
        }
        if (run >= 0) obs?.stored(seq, run, full);
        seq.registered = Math.max(seq.registered, full);
      }
      if (seq.numComputed < seq.totalTokens) continue; // prefill chunk, nothing sampled yet
      if (seq.target === 0) {
        this.finish(seq, now, 'stop');
        finished++;
        continue;
      }
      seq.output++;
      this.stats.onToken(seq, now);
      this.listener.onToken?.(seq, now);
      if (seq.output >= seq.target) {
        this.finish(seq, now, seq.lengthLimited ? 'length' : 'stop');
        finished++;
      }
    }
    this.batch.length = 0;
    this.kvObserver?.stepDone();
    if (finished > 0) {
      let w = 0;
      for (const seq of this.running) if (seq.state === 'running') this.running[w++] = seq;
      this.running.length = w;
    }
  }

  /** The step-time model (ms) applied to the batch just planned; also loads adapters it needs. */
  private stepDuration(): number {
    const cfg = this.config;
    const cost = batchCost(this.batch, cfg);
    this.stats.prefillTokens += cost.prefillTokens;
    let ms = cost.ms;
    if (cost.withLora) {
      for (const adapter of this.runningAdapters.keys()) {
        const load = this.lora.ensureLoaded(adapter, this.runningAdapters, cfg);
        if (load > 0) this.stats.loraLoads++;
        ms += load;
      }
    }
    return ms;
  }

  /** Admits waiting requests FCFS (priority order) while slots, budget and blocks allow. */
  private admitWaiting(budget: number): number {
    const cfg = this.config;
    let skipped: Sequence[] | null = null;
    let i = this.wHead;
    const w = this.waiting;
    for (; i < w.length; i++) {
      if (this.running.length >= cfg.maxNumSeqs || budget <= 0) break;
      const seq = w[i]!;
      const adapter = seq.adapter;
      if (adapter !== undefined && !this.runningAdapters.has(adapter) && this.runningAdapters.size >= cfg.maxLoras) {
        (skipped ??= []).push(seq); // this adapter cannot join the batch; later requests may
        continue;
      }
      if (seq.numComputed === 0 && seq.blocks.length === 0 && cfg.prefixCaching && seq.hashes.length > 0) {
        // At least the last prompt token is always computed, so hits stop one token short.
        const limit = Math.floor((seq.totalTokens - 1) / cfg.blockSize);
        const hits = this.kv.acquireCached(seq.hashes, limit, seq.blocks);
        seq.numComputed = hits * cfg.blockSize;
        seq.registered = hits;
      }
      const numNew = Math.min(seq.totalTokens - seq.numComputed, budget);
      if (!this.reserve(seq, seq.numComputed + numNew)) {
        this.kv.release(seq.blocks);
        seq.numComputed = 0;
        seq.registered = 0;
        break;
      }
      if (seq.cachedTokens < 0) {
        seq.cachedTokens = seq.numComputed;
        this.stats.prefixQueries += seq.promptTokens;
        this.stats.prefixHits += seq.numComputed;
        seq.admittedMs = this.now;
        this.stats.queueTime.observe((this.now - seq.arrivalMs) / 1000);
      }
      seq.state = 'running';
      this.countAdapter(this.waitingAdapters, adapter, -1);
      this.countAdapter(this.runningAdapters, adapter, 1);
      this.running.push(seq);
      seq.scheduled = numNew;
      budget -= numNew;
      this.batch.push(seq);
    }
    if (skipped) {
      this.waiting = skipped.concat(w.slice(i));
      this.wHead = 0;
    } else {
      this.wHead = i;
      if (this.wHead > 1024 && this.wHead * 2 > w.length) {
        this.waiting = w.slice(this.wHead);
        this.wHead = 0;
      }
    }
    return budget;
  }

  /** Makes sure `seq` holds blocks for `tokens` tokens. */
  private reserve(seq: Sequence, tokens: number): boolean {
    const need = Math.ceil(tokens / this.config.blockSize) - seq.blocks.length;
    return need <= 0 || this.kv.allocate(need, seq.blocks);
  }

  /**
   * The running sequence to give up: the lowest priority, newest first (vLLM V1),
   * among those not yet scheduled in this step (from index `from` on).
   */
  private pickVictim(from: number): Sequence {
    let victim = this.running[this.running.length - 1]!;
    for (let i = this.running.length - 2; i >= from; i--) {
      if (this.running[i]!.priority > victim.priority) victim = this.running[i]!;
    }
    return victim;
  }

  private preempt(seq: Sequence): void {
    this.running.splice(this.running.lastIndexOf(seq), 1);
    this.countAdapter(this.runningAdapters, seq.adapter, -1);
    this.kv.release(seq.blocks);
    seq.numComputed = 0;
    seq.registered = 0;
    seq.scheduled = 0;
    seq.state = 'waiting';
    seq.preemptions++;
    this.stats.preemptions++;
    this.countAdapter(this.waitingAdapters, seq.adapter, 1);
    if (this.wHead > 0) this.waiting[--this.wHead] = seq;
    else this.waiting.unshift(seq);
  }

  private enqueue(seq: Sequence): void {
    this.countAdapter(this.waitingAdapters, seq.adapter, 1);
    const w = this.waiting;
    let i = w.length;
    while (i > this.wHead && w[i - 1]!.priority > seq.priority) i--;
    if (i === w.length) w.push(seq);
    else w.splice(i, 0, seq);
  }

  private finish(seq: Sequence, now: number, reason: 'stop' | 'length'): void {
    this.kv.release(seq.blocks);
    this.countAdapter(this.runningAdapters, seq.adapter, -1);
    seq.state = 'finished';
    seq.finishReason = reason;
    seq.finishedMs = now;
    this.stats.onFinish(seq, now);
    this.listener.onFinish?.(seq, now);
  }

  private countAdapter(map: Map<string, number>, adapter: string | undefined, delta: number): void {
    if (adapter === undefined) return;
    const n = (map.get(adapter) ?? 0) + delta;
    if (n > 0) map.set(adapter, n);
    else map.delete(adapter);
  }

  /** Waiting requests in queue order (for tests and /admin/state). */
  waitingSequences(): readonly Sequence[] {
    return this.waiting.slice(this.wHead);
  }

  runningSequences(): readonly Sequence[] {
    return this.running;
  }
}

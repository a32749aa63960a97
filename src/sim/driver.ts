/**
 * Runs a SimEngine on a real clock: engine time is wall time divided by
 * `timeScale` (0.1 = ten times faster). One timer per engine wakes up at the
 * end of the step in progress; every step that has ended by then is applied,
 * so engine time stays exact even when timers fire late — tokens are then
 * delivered in a burst rather than lost or slowed.
 */
import type { SimEngine } from './engine.ts';
import { Histogram } from '../observability/histogram.ts';
import type { Sequence, SimRequest } from './sequence.ts';

/** Receives a sequence's tokens as they are generated; kept in `Sequence.handle`. */
export interface TokenSink {
  token(seq: Sequence): void;
  finish(seq: Sequence): void;
  /**
   * Called once after every engine advance in which `token` was called:
   * tokens generated in the same advance (several steps when the process runs
   * late) leave in one write instead of one per token.
   */
  flush?(): void;
}

export class RealTimeDriver {
  readonly engine: SimEngine;
  readonly timeScale: number;
  private readonly origin: number;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = Infinity;
  private closed = false;
  private inEngine = false;
  /** Sinks holding tokens not yet flushed. */
  private readonly dirty = new Set<TokenSink>();
  /**
   * How late (wall ms) step ends were applied after they were due: the
   * simulator's own lag. Near zero means the process keeps the model's pace.
   */
  readonly lateness = new Histogram([0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]);

  constructor(engine: SimEngine, timeScale = 1, clock: () => number = () => performance.now()) {
    this.engine = engine;
    this.timeScale = timeScale;
    this.clock = clock;
    this.origin = clock();
    engine.setListener({
      onToken: (seq) => {
        const sink = seq.handle as TokenSink | undefined;
        if (!sink) return;
        sink.token(seq);
        if (sink.flush) this.dirty.add(sink);
      },
      onFinish: (seq) => {
        const sink = seq.handle as TokenSink | undefined;
        if (!sink) return;
        if (sink.flush && this.dirty.delete(sink)) sink.flush();
        sink.finish(seq);
      },
    });
  }

  private readonly clock: () => number;

  /** Engine time now (ms). */
  now(): number {
    return (this.clock() - this.origin) / this.timeScale;
  }

  /** Engine ms → wall ms. */
  toWallMs(engineMs: number): number {
    return engineMs * this.timeScale;
  }

  submit(req: SimRequest, sink: TokenSink): Sequence {
    const now = this.now();
    this.advance(now);
    const seq = this.engine.submit({ ...req, handle: sink }, now);
    if (!this.inEngine) this.pump();
    return seq;
  }

  /** Drops a request; safe to call from inside a TokenSink callback. */
  abort(seq: Sequence): void {
    if (seq.done) return;
    this.engine.abort(seq, this.engine.now);
    if (!this.inEngine) this.pump();
  }

  /** Stops the timer; queued requests stay where they are. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private pump(): void {
    if (this.closed) return;
    const end = this.advance(this.now());
    if (end < 0 || end === this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = end;
    const delay = Math.max(0, (end - this.now()) * this.timeScale);
    this.timer = setTimeout(this.onTimer, delay);
  }

  /** Runs the engine up to `now` unless we are already inside it (a sink callback). */
  private advance(now: number): number {
    if (this.inEngine) return this.engine.stepEnd;
    this.inEngine = true;
    try {
      return this.engine.advanceTo(now);
    } finally {
      this.inEngine = false;
      if (this.dirty.size > 0) {
        for (const sink of this.dirty) sink.flush!();
        this.dirty.clear();
      }
    }
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.timerAt = Infinity;
    const due = this.engine.stepEnd;
    if (due >= 0) this.lateness.observe(Math.max(0, (this.now() - due) * this.timeScale));
    this.pump();
  };
}

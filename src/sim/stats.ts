/** Counters and latency histograms of one engine, in the units /metrics reports. */
import { Histogram, ITL_BUCKETS, REQUEST_BUCKETS, TTFT_BUCKETS } from '../observability/histogram.ts';
import type { Sequence } from './sequence.ts';

export class EngineStats {
  steps = 0;
  /** Engine time spent in steps (ms). */
  busyMs = 0;
  prefillTokens = 0;
  promptTokens = 0;
  generationTokens = 0;
  finishedStop = 0;
  finishedLength = 0;
  aborted = 0;
  preemptions = 0;
  prefixQueries = 0;
  prefixHits = 0;
  loraLoads = 0;
  readonly ttft = new Histogram(TTFT_BUCKETS);
  readonly itl = new Histogram(ITL_BUCKETS);
  readonly e2e = new Histogram(REQUEST_BUCKETS);
  readonly queueTime = new Histogram(REQUEST_BUCKETS);

  get finished(): number {
    return this.finishedStop + this.finishedLength;
  }

  onToken(seq: Sequence, now: number): void {
    this.generationTokens++;
    if (seq.firstTokenMs < 0) {
      seq.firstTokenMs = now;
      this.promptTokens += seq.promptTokens;
      this.ttft.observe((now - seq.arrivalMs) / 1000);
    } else {
      this.itl.observe((now - seq.lastTokenMs) / 1000);
    }
    seq.lastTokenMs = now;
  }

  onFinish(seq: Sequence, now: number): void {
    if (seq.finishReason === 'length') this.finishedLength++;
    else this.finishedStop++;
    if (seq.firstTokenMs < 0) this.promptTokens += seq.promptTokens; // prefill-only (embeddings)
    this.e2e.observe((now - seq.arrivalMs) / 1000);
  }

  /** A plain snapshot for /admin/state and tests. */
  toJSON(): Record<string, number> {
    return {
      steps: this.steps,
      busy_ms: this.busyMs,
      prefill_tokens: this.prefillTokens,
      prompt_tokens: this.promptTokens,
      generation_tokens: this.generationTokens,
      finished: this.finished,
      finished_stop: this.finishedStop,
      finished_length: this.finishedLength,
      aborted: this.aborted,
      preemptions: this.preemptions,
      prefix_queries: this.prefixQueries,
      prefix_hits: this.prefixHits,
      lora_loads: this.loraLoads,
      ttft_count: this.ttft.count,
      ttft_mean_s: this.ttft.count ? this.ttft.sum / this.ttft.count : 0,
      itl_mean_s: this.itl.count ? this.itl.sum / this.itl.count : 0,
    };
  }
}

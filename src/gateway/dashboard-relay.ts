/**
 * The dashboard of a `--workers N` gateway: the page is served by the primary
 * (the admin port is there), the requests are served by the workers. Each
 * worker runs a relay — the dashboard's request observer over a buffer —
 * that, while the primary says a page is open, sends what the recorder needs
 * (each request's end, each decision, explained within its share of the
 * explanation budget) in a batch every 250 ms; the primary feeds the batches
 * to its DashboardRecorder. While no page is open the workers send nothing,
 * so the traffic charts of a cluster start when a page opens. A pod's
 * in-flight count is each worker's own and is not shown in a cluster.
 */
import type { DashboardRecorder } from '../dashboard/recorder.ts';
import type { DashboardSource, DecisionView, FeedUpdate } from '../dashboard/feed.ts';
import type { RequestRecord } from '../dashboard/series.ts';
import type { RequestObserver } from '../proxy/observer.ts';
import { dashboardObserver } from './dashboard-source.ts';

export interface DashboardBatch {
  records: RequestRecord[];
  decisions: Omit<DecisionView, 'seq'>[];
}

/** What the primary tells the workers: whether a page watches, and each worker's explanations a second. */
export interface DashboardWatch {
  watching: boolean;
  explanationsPerSecond: number;
}

/** At most this many records and decisions a batch (a batch is sent every 250 ms). */
const MAX_BATCH = 2000;

export class DashboardRelay {
  readonly observer: RequestObserver;
  #watch: DashboardWatch = { watching: false, explanationsPerSecond: 0 };
  #batch: DashboardBatch = { records: [], decisions: [] };
  #timer: ReturnType<typeof setInterval> | undefined;
  #second = 0;
  #explained = 0;

  constructor(
    private readonly send: (batch: DashboardBatch) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.observer = dashboardObserver({
      wantsExplanation: () => this.#wantsExplanation(),
      decision: (d) => this.#watch.watching && this.#batch.decisions.length < MAX_BATCH && void this.#batch.decisions.push(d),
      record: (r) => this.#watch.watching && this.#batch.records.length < MAX_BATCH && void this.#batch.records.push(r),
    });
  }

  watch(watch: DashboardWatch): void {
    this.#watch = watch;
    if (watch.watching && this.#timer === undefined) this.#timer = setInterval(() => this.flush(), 250);
    if (!watch.watching) this.close();
  }

  flush(): void {
    const batch = this.#batch;
    if (batch.records.length === 0 && batch.decisions.length === 0) return;
    this.#batch = { records: [], decisions: [] };
    this.send(batch);
  }

  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#batch = { records: [], decisions: [] };
  }

  #wantsExplanation(): boolean {
    if (!this.#watch.watching) return false;
    const second = Math.floor(this.now() / 1000);
    if (second !== this.#second) {
      this.#second = second;
      this.#explained = 0;
    }
    if (this.#explained >= this.#watch.explanationsPerSecond) return false;
    this.#explained++;
    return true;
  }
}

/**
 * The primary's side: the recorder as the page's source, telling `broadcast`
 * whenever pages start or stop watching, and taking the workers' batches.
 */
export function relayedDashboard(recorder: DashboardRecorder, broadcast: (watch: DashboardWatch) => void, workers: () => number): { source: DashboardSource; apply(batch: DashboardBatch): void; watch(): DashboardWatch } {
  const EXPLANATIONS_PER_SECOND = 10;
  const watch = (): DashboardWatch => ({ watching: recorder.watching, explanationsPerSecond: Math.max(1, Math.floor(EXPLANATIONS_PER_SECOND / Math.max(1, workers()))) });
  const source: DashboardSource = {
    state: () => recorder.state(),
    subscribe(listener: (event: FeedUpdate) => void) {
      const unsubscribe = recorder.subscribe(listener);
      broadcast(watch());
      return () => {
        unsubscribe();
        broadcast(watch());
      };
    },
  };
  return {
    source,
    apply(batch) {
      for (const r of batch.records) recorder.record(r);
      for (const d of batch.decisions) recorder.decision(d);
    },
    watch,
  };
}

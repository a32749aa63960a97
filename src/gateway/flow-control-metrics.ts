/**
 * Flow control's metrics (the queueing in front of the scheduler,
 * src/flowcontrol/), with llm-d's names where it has them: how long requests
 * waited and how they left the queue (`outcome` as llm-d names it), and how
 * many wait now. Recorded from the FlowController's events and read from its
 * queues at scrape time; per process, so they add up across `--workers`.
 * The request observer's `queued` point is how the access log, traces and
 * dashboard hear of a wait; these are the counts.
 */
import { BoundedLabel, BUCKETS, type Registry } from '../observability/exposition.ts';

/** What the FlowController tells of each request that leaves it (src/flowcontrol/controller.ts `onEvent`). */
export interface FlowEvent {
  pool: string;
  priority: number;
  /** The flow (fairness id). */
  flow: string;
  outcome: 'dispatched' | 'queue-full' | 'ttl-expired' | 'no-endpoints' | 'shed' | 'client-gone';
  waitedMs: number;
}

/** llm-d's outcome label values (docs/compatibility.md §e). */
const OUTCOME: Record<FlowEvent['outcome'], string> = {
  dispatched: 'Dispatched',
  'queue-full': 'RejectedCapacity',
  shed: 'RejectedCapacity',
  'ttl-expired': 'EvictedTTL',
  'no-endpoints': 'EvictedNoEndpoints',
  'client-gone': 'EvictedContextCancelled',
};

export interface QueuedNow {
  /** What waits now, per pool, priority band and flow. */
  queued(): Iterable<{ pool: string; priority: number; flow: string; requests: number; bytes: number }>;
}

/** Flow isolation's reserves (src/flowcontrol/isolation.ts). */
export interface Reserves {
  reserves(): Iterable<{ pool: string; endpoints: number }>;
}

export class FlowControlMetrics {
  readonly #fairness = new BoundedLabel();
  readonly #duration;
  readonly #requests;

  constructor(registry: Registry, queues?: QueuedNow, isolation?: Reserves) {
    this.#duration = registry.histogram('inference_extension_flow_control_request_queue_duration_seconds', 'Time a request spent in flow control, by how it left.', ['fairness_id', 'priority', 'outcome', 'inference_pool'], BUCKETS.flowQueue);
    this.#requests = registry.counter('infergate_flow_control_requests_total', 'Requests that left flow control, by outcome (llm-d flow_control_requests_total).', ['outcome', 'priority', 'inference_pool']);
    if (isolation) {
      const reserved = registry.gauge('infergate_flow_isolation_reserved_endpoints', 'Endpoints flow isolation keeps for the flows within their share now (0: no restriction).', ['inference_pool']);
      registry.collect(() => {
        reserved.clear();
        for (const r of isolation.reserves()) reserved.labels(r.pool).value = r.endpoints;
      });
    }
    if (!queues) return;
    const size = registry.gauge('inference_extension_flow_control_queue_size', 'Requests waiting in flow control now.', ['fairness_id', 'priority', 'inference_pool']);
    const bytes = registry.gauge('inference_extension_flow_control_queue_bytes', 'Request bytes waiting in flow control now.', ['fairness_id', 'priority', 'inference_pool']);
    registry.collect(() => {
      size.clear();
      bytes.clear();
      for (const q of queues.queued()) {
        const labels = [this.#fairness.value(q.flow), String(q.priority), q.pool] as const;
        size.labels(...labels).value += q.requests;
        bytes.labels(...labels).value += q.bytes;
      }
    });
  }

  /** A request left flow control (dispatched or refused), after `waitedMs`. */
  event(e: FlowEvent): void {
    const outcome = OUTCOME[e.outcome];
    const priority = String(e.priority);
    this.#duration.labels(this.#fairness.value(e.flow), priority, outcome, e.pool).observe(e.waitedMs / 1000);
    this.#requests.labels(outcome, priority, e.pool).value++;
  }
}

/**
 * The place for flow control's metrics (the queueing in front of the
 * scheduler, built separately): the Inference Extension's names and labels,
 * ready to be recorded by whoever holds the queues. Call `enqueued` when a
 * request starts waiting and `dequeued` when it leaves its queue, with the
 * outcome llm-d uses (Dispatched, RejectedCapacity, RejectedOther,
 * EvictedTTL, EvictedContextCancelled, EvictedOther). Per process: the queue
 * sizes add up across `--workers`. The request observer's `queued` point
 * (src/proxy/observer.ts) is how the access log, traces and dashboard hear of
 * the wait; these are the counts.
 */
import { BoundedLabel, BUCKETS, type Registry } from '../observability/exposition.ts';

export type FlowOutcome = 'Dispatched' | 'RejectedCapacity' | 'RejectedNoEndpoints' | 'RejectedOther' | 'EvictedTTL' | 'EvictedContextCancelled' | 'EvictedOther';

export interface FlowKey {
  /** The flow's fairness id (x-llm-d-inference-fairness-id; `default-flow` when none). */
  fairnessId: string;
  priority: number;
  pool: string;
  model: string;
  targetModel: string;
}

export class FlowControlMetrics {
  readonly #fairness = new BoundedLabel();
  readonly #models = new BoundedLabel();
  readonly #queueSize;
  readonly #queueBytes;
  readonly #queueDuration;
  readonly #requests;

  constructor(registry: Registry) {
    const flow = ['fairness_id', 'priority', 'inference_pool', 'model_name', 'target_model_name'];
    this.#queueSize = registry.gauge('inference_extension_flow_control_queue_size', 'Requests waiting in flow control.', flow);
    this.#queueBytes = registry.gauge('inference_extension_flow_control_queue_bytes', 'Request bytes waiting in flow control.', flow);
    this.#queueDuration = registry.histogram('inference_extension_flow_control_request_queue_duration_seconds', 'Time a request spent in flow control, by outcome.', [...flow.slice(0, 2), 'outcome', ...flow.slice(2)], BUCKETS.flowQueue);
    this.#requests = registry.counter('infergate_flow_control_requests_total', 'Requests that left flow control, by outcome.', ['outcome', 'priority', 'inference_pool']);
  }

  enqueued(key: FlowKey, bytes: number): void {
    const labels = this.#labels(key);
    this.#queueSize.labels(...labels).value++;
    this.#queueBytes.labels(...labels).value += bytes;
  }

  dequeued(key: FlowKey, bytes: number, outcome: FlowOutcome, seconds: number): void {
    const [fairness, priority, pool, model, target] = this.#labels(key);
    this.#queueSize.labels(fairness, priority, pool, model, target).value--;
    this.#queueBytes.labels(fairness, priority, pool, model, target).value -= bytes;
    this.#queueDuration.labels(fairness, priority, outcome, pool, model, target).observe(seconds);
    this.#requests.labels(outcome, priority, pool).value++;
  }

  #labels(key: FlowKey): [string, string, string, string, string] {
    return [this.#fairness.value(key.fairnessId), String(key.priority), key.pool, this.#models.value(key.model), this.#models.value(key.targetModel)];
  }
}

import { describe, expect, it } from 'vitest';
import { parseStrict } from '../../test/prom-strict.ts';
import { GatewayMetrics } from './metrics.ts';
import type { FlowEvent } from './flow-control-metrics.ts';

describe("flow control's metrics", () => {
  it("count outcomes with llm-d's names and read the queues at scrape time", () => {
    const waiting = [{ pool: 'p', priority: 0, flow: 'tenant-a', requests: 3, bytes: 900 }];
    const controller: { onEvent?: (e: FlowEvent) => void; queued: () => typeof waiting } = { queued: () => waiting };
    const m = new GatewayMetrics();
    m.observeFlowControl(controller);
    controller.onEvent!({ pool: 'p', priority: 0, flow: 'tenant-a', outcome: 'dispatched', waitedMs: 40 });
    controller.onEvent!({ pool: 'p', priority: -1, flow: 'default-flow', outcome: 'ttl-expired', waitedMs: 2000 });
    controller.onEvent!({ pool: 'p', priority: 0, flow: 'tenant-a', outcome: 'queue-full', waitedMs: 0 });
    const page = parseStrict(m.render());
    expect(page.value('inference_extension_flow_control_queue_size', { fairness_id: 'tenant-a', priority: '0', inference_pool: 'p' })).toBe(3);
    expect(page.value('inference_extension_flow_control_queue_bytes', { inference_pool: 'p' })).toBe(900);
    expect(page.value('inference_extension_flow_control_request_queue_duration_seconds_sum', { outcome: 'Dispatched' })).toBeCloseTo(0.04);
    expect(page.value('infergate_flow_control_requests_total', { outcome: 'EvictedTTL', priority: '-1', inference_pool: 'p' })).toBe(1);
    expect(page.value('infergate_flow_control_requests_total', { outcome: 'RejectedCapacity' })).toBe(1);
    waiting.length = 0;
    expect(parseStrict(m.render()).sum('inference_extension_flow_control_queue_size')).toBe(0);
  });
});

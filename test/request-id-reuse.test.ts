/**
 * A client's x-request-id is its own to choose, and clients do repeat one
 * (a fixed id in a script, an id per session, a replayed request). The
 * gateway echoes it and passes it on, but counts its requests in flight by
 * a key of its own: requests that share an id are still each counted while
 * they run, and each uncounted when it ends — else a client could hide its
 * load from the picker, flow control's concurrency limit and the
 * prefill-work count just by repeating an id.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EndpointPicker } from '../src/scheduling/endpoint-picker.ts';
import { chat, postJson, startDemoCluster, type DemoCluster } from './harness.ts';

describe('requests that share an x-request-id', () => {
  let cluster: DemoCluster;
  beforeAll(async () => {
    cluster = await startDemoCluster({ timeScale: 1, gateway: { log: () => {} } });
  }, 30_000);
  afterAll(() => cluster?.close());

  /** This gateway's requests in flight, over every endpoint of every pool. */
  const inFlight = () => {
    const picker = cluster.gateway.scheduling.scheduler as EndpointPicker;
    let n = 0;
    for (const [pool, ids] of Object.entries(cluster.endpointIds)) for (const id of ids) n += picker.inFlightCount(pool, id) ?? 0;
    return n;
  };

  it('are each counted in flight while they run, and none is left counted after', async () => {
    const url = `${cluster.gateway.url}/v1/chat/completions`;
    const streams = await Promise.all(
      Array.from({ length: 4 }, (_, i) => postJson(url, chat('chatbot', `Tell me a long story, number ${i}.`, { max_tokens: 200, stream: true }), { 'x-request-id': 'same-id' })),
    );
    for (const res of streams) {
      expect(res.status).toBe(200);
      expect(res.headers.get('x-request-id')).toBe('same-id');
    }
    // All four have their answer's head (a stream of 200 tokens at real speed runs for ~0.8 s more): each is in
    // flight at its pod until its stream ends — four requests on the pool's three pods, so two share one.
    expect(inFlight()).toBe(4);
    await Promise.all(streams.map((res) => res.text()));
    await expect.poll(inFlight).toBe(0);
  });
});

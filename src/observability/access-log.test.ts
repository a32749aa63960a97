import { describe, expect, it } from 'vitest';
import { GatewayMetrics } from '../gateway/metrics.ts';
import { playRequest } from '../gateway/observer-testing.ts';
import { accessLog, traceIdOf } from './access-log.ts';

describe('the access log', () => {
  it('writes one line per request with its facts', () => {
    const lines: string[] = [];
    const log = accessLog({ write: (l) => lines.push(l), now: () => Date.UTC(2026, 11, 6) });
    playRequest([log], { pool: 'p', model: 'bot', target: 'bot-lora', seconds: 0.25, ttftSeconds: 0.05, stream: true, usage: { input: 10, output: 4 }, refused: 1, headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' } });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ time: '2026-12-06T00:00:00.000Z', traceId: '4bf92f3577b34da6a3ce929d0e0e4736', model: 'bot', targetModel: 'bot-lora', pool: 'p', endpoint: '10.0.0.1:8000', status: 200, outcome: 'served', ttftMs: 50, durationMs: 250, inputTokens: 10, outputTokens: 4, retries: 1, stream: true });
  });

  it('samples successful requests, always logs failed ones, and caps lines a second saying how many it skipped', () => {
    const lines: string[] = [];
    let r = 0;
    const log = accessLog({ write: (l) => lines.push(l), sample: 0.5, random: () => (r++ % 2 === 0 ? 0.1 : 0.9) });
    for (let i = 0; i < 10; i++) playRequest([log], { pool: 'p', model: 'm' });
    expect(lines).toHaveLength(5);
    playRequest([log], { pool: 'p', model: 'm', decision: 'shed' });
    playRequest([log], { pool: 'p', model: 'm', status: 500 });
    expect(lines.slice(5).map((l) => JSON.parse(l).outcome)).toEqual(['shed', 'served']);

    const capped: string[] = [];
    let now = 1_000_000;
    const limited = accessLog({ write: (l) => capped.push(l), maxPerSecond: 2, now: () => now });
    for (let i = 0; i < 5; i++) playRequest([limited], { pool: 'p', model: 'm' });
    now += 1000;
    playRequest([limited], { pool: 'p', model: 'm' });
    expect(capped).toHaveLength(3);
    expect(JSON.parse(capped[2]!).skipped).toBe(3);
  });

  it('reads a trace id only from a well-formed traceparent', () => {
    expect(traceIdOf('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(traceIdOf('00-00000000000000000000000000000000-00f067aa0ba902b7-01')).toBeUndefined();
    expect(traceIdOf('garbage')).toBeUndefined();
    expect(traceIdOf(null)).toBeUndefined();
  });

  it('leaves the metrics’ running gauge at zero however requests end', () => {
    const m = new GatewayMetrics();
    for (const decision of ['route', 'shed', 'unavailable'] as const) playRequest([m], { pool: 'p', model: 'm', decision });
    expect(m.render()).toContain('inference_objective_running_requests{model_name="m"} 0');
  });
});

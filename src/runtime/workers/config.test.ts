/**
 * The Worker's vars: a gateway flag the Worker cannot honour is refused at
 * start, naming the variable, rather than accepted and ignored.
 */
import { describe, expect, it } from 'vitest';
import { createServer, type AddressInfo } from 'node:net';
import { edgeConfig } from './config.ts';
import { agentClient } from './connect.ts';
import type { WorkerEnv } from './types.ts';

const env = (vars: Record<string, string>) => ({ POOLS: {} as WorkerEnv['POOLS'], INFERGATE_AGENT: 'http://agent', ...vars }) as WorkerEnv;

describe('edgeConfig', () => {
  it.each([
    ['INFERGATE_API_KEYS', /INFERGATE_API_KEYS is not supported on Workers: .*not be authenticated/],
    ['INFERGATE_UPSTREAM_CREDENTIALS', /INFERGATE_UPSTREAM_CREDENTIALS is not supported on Workers/],
    ['INFERGATE_UPSTREAM_CONNECT_TIMEOUT', /INFERGATE_UPSTREAM_CONNECT_TIMEOUT is not supported on Workers/],
    ['INFERGATE_STATE_DIR', /INFERGATE_STATE_DIR is not supported on Workers/],
  ])('refuses %s', (name, message) => {
    expect(() => edgeConfig(env({ [name]: '1000' }))).toThrow(message);
  });

  it('refuses flow control in the scheduling config, and says what to use', () => {
    expect(() => edgeConfig(env({ INFERGATE_SCHEDULING_CONFIG: 'featureGates: [flowControl]\n' }))).toThrow(/Workers does not run.*TokenBudget/);
  });

  it('takes a scheduling config without flow control, and the access log on stdout only', () => {
    const c = edgeConfig(env({ INFERGATE_SCHEDULING_CONFIG: 'featureGates: [dataLayer=false]\n', INFERGATE_ACCESS_LOG: 'stdout', INFERGATE_ACCESS_LOG_SAMPLE: '0.5' }));
    expect(c.schedulingConfig).toBeDefined();
    expect(c.accessLog).toEqual({ sample: 0.5, maxPerSecond: undefined });
    expect(edgeConfig(env({})).accessLog).toBeUndefined();
    expect(() => edgeConfig(env({ INFERGATE_ACCESS_LOG: '/var/log/x' }))).toThrow(/INFERGATE_ACCESS_LOG must be off or stdout on Workers/);
  });

  it("reads INFERGATE_AGENT_TOKEN and sends it to the agent as a bearer token (an agent started with --token)", async () => {
    const config = edgeConfig(env({ INFERGATE_AGENT_TOKEN: 'agent-secret' }));
    expect(config.agentToken).toBe('agent-secret');
    // A listener that records the request head and closes: the call fails, the header is what matters.
    let head = '';
    const server = createServer((socket) => socket.once('data', (d) => { head = d.toString('latin1'); socket.destroy(); }));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const client = agentClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, config.agentToken);
      await client.getEndpoints({ selector: { pool: 'p' }, targetPorts: [8000] }).catch(() => undefined);
      expect(head.toLowerCase()).toContain('authorization: bearer agent-secret');
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

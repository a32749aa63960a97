import { describe, expect, it } from 'vitest';
import { endpointEntries, podEndpoint, poolSelection, selects } from './pods.ts';
import type { KubeObject } from './port.ts';

const pod = (over: { labels?: Record<string, string>; ip?: string; ready?: string; deleting?: boolean; namespace?: string } = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p', namespace: over.namespace ?? 'llm', labels: over.labels ?? { app: 'x' }, ...(over.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
  status: { podIP: over.ip ?? '10.0.0.1', conditions: [{ type: 'Ready', status: over.ready ?? 'True' }] },
});

describe('pods → endpoints', () => {
  it.each([
    ['ready, with an IP', {}, { ready: true, draining: false }],
    ['Ready condition False', { ready: 'False' }, { ready: false, draining: false }],
    ['terminating (deletionTimestamp)', { deleting: true }, { ready: false, draining: true }],
    ['no IP yet', { ip: '' }, { ready: false, draining: false }],
  ])('%s', (_name, over, expected) => {
    expect(podEndpoint(pod(over))).toMatchObject(expected);
  });

  it('reads the engine label, vllm when absent or unknown', () => {
    expect(podEndpoint(pod({ labels: { 'infergate.dev/engine': 'sglang' } }))!.engine).toBe('sglang');
    expect(podEndpoint(pod({ labels: { 'infergate.dev/engine': 'tgi' } }))!.engine).toBe('vllm');
    expect(podEndpoint(pod())!.engine).toBe('vllm');
  });

  it('reads both pool versions; an empty selector selects nothing', () => {
    const v1 = { apiVersion: 'inference.networking.k8s.io/v1', kind: 'InferencePool', metadata: { name: 'a', namespace: 'llm' }, spec: { selector: { matchLabels: { app: 'x' } }, targetPorts: [{ number: 8000 }, { number: 8001 }] } };
    const old = { apiVersion: 'inference.networking.x-k8s.io/v1alpha2', kind: 'InferencePool', metadata: { name: 'b', namespace: 'llm' }, spec: { selector: { app: 'x' }, targetPortNumber: 9000 } };
    expect(poolSelection(v1)).toEqual({ namespace: 'llm', name: 'a', selector: { app: 'x' }, targetPorts: [8000, 8001] });
    expect(poolSelection(old)).toEqual({ namespace: 'llm', name: 'b', selector: { app: 'x' }, targetPorts: [9000] });
    expect(selects({}, { app: 'x' })).toBe(false);
    expect(selects({ app: 'x' }, { app: 'x', other: 'y' })).toBe(true);
  });

  it('entries: ready pods a pool of their own namespace selects, one per target port', () => {
    const pools = [{ namespace: 'llm', name: 'a', selector: { app: 'x' }, targetPorts: [8001, 8000] }];
    const pods = [pod({ ip: '10.0.0.1' }), pod({ ip: '10.0.0.2', ready: 'False' }), pod({ ip: '10.0.0.3', namespace: 'other' }), pod({ ip: '10.0.0.4', labels: { app: 'y' } })].map((p) => podEndpoint(p)!);
    expect(endpointEntries(pods, pools)).toEqual([
      { address: '10.0.0.1', port: 8000, labels: { app: 'x' }, engine: 'vllm', namespace: 'llm' },
      { address: '10.0.0.1', port: 8001, labels: { app: 'x' }, engine: 'vllm', namespace: 'llm' },
    ]);
  });
});

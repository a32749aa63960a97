import { describe, expect, it } from 'vitest';
import { selectEndpoints, type EndpointEntry } from './file-schema.ts';

const ids = (entries: EndpointEntry[], pool: Parameters<typeof selectEndpoints>[1]) => selectEndpoints(entries, pool).map((e) => `${e.address}:${e.port}`);

describe('selectEndpoints', () => {
  it('a discovered entry joins pools of its namespace on their ports only; a file entry matches by labels and keeps its port', () => {
    const labels = { app: 'x' };
    const entries: EndpointEntry[] = [
      // Kubernetes discovery: one entry a pod a port, with the pod's namespace.
      { address: '10.0.0.1', port: 3000, labels, engine: 'vllm', namespace: 'llm' },
      { address: '10.0.0.1', port: 3001, labels, engine: 'vllm', namespace: 'llm' },
      { address: '10.0.0.2', port: 3000, labels, engine: 'vllm', namespace: 'other' },
      // The endpoints file: no namespace.
      { address: '10.0.0.3', port: 9000, labels, engine: 'vllm' },
      { address: '10.0.0.4', labels, engine: 'vllm' },
    ];
    // The table names a pool `namespace/name`, or `name` in the default namespace.
    expect(ids(entries, { name: 'llm/a', selector: labels, targetPorts: [3000] })).toEqual(['10.0.0.1:3000', '10.0.0.3:9000', '10.0.0.4:3000']);
    expect(ids(entries, { name: 'other/b', selector: labels, targetPorts: [3001] })).toEqual(['10.0.0.3:9000', '10.0.0.4:3001']);
    expect(ids(entries, { name: 'c', selector: labels, targetPorts: [3000] })).toEqual(['10.0.0.3:9000', '10.0.0.4:3000']);
    // A pool without a name (no namespace to go by) still keeps to its ports.
    expect(ids(entries, { selector: labels, targetPorts: [3001] })).toEqual(['10.0.0.1:3001', '10.0.0.3:9000', '10.0.0.4:3001']);
  });
});

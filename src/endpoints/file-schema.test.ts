import { describe, expect, it } from 'vitest';
import { parseEndpointsFile, selectEndpoints, type EndpointEntry } from './file-schema.ts';
import { excerpt, formatProblem } from '../routing/problems.ts';

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

describe('parseEndpointsFile: what a problem quotes of the file', () => {
  const said = (text: string) => {
    const parsed = parseEndpointsFile(text, 'e.yaml');
    if (parsed.ok) throw new Error('accepted');
    return parsed.problems.map(formatProblem).join('; ');
  };

  it('a binary file: a short printable excerpt, not the whole file', () => {
    const bytes = Buffer.alloc(12_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = [0x4c, 0xff, 0x04, 0x78, 0xfe, 0x1b, 0x7f, 0x5a][i % 8]!;
    expect(said(bytes.toString('utf8'))).toBe('e.yaml: Invalid type: Expected Object but received "L\\ufffd\\x04x\\ufffd\\x1b\\x7fZL\\ufffd\\x04x\\ufffd\\x1b\\x7fZL…"');
    // One the YAML parser refuses: its error's quoted lines are one excerpt too.
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(300, 0xff), Buffer.from(': x\n#a: [')]);
    const yamlError = said(png.toString('utf8'));
    expect(yamlError).toMatch(/^e\.yaml: not valid YAML\/JSON: .* at line \d+, column \d+, near "/);
    expect(yamlError.length).toBeLessThan(250);
    expect(yamlError).not.toMatch(/[\x00-\x1f\x7f\ufffd]/);
    // A long value of a text file: bounded too.
    expect(said(`endpoints:\n  - ${'a'.repeat(5000)}\n`)).toBe(`e.yaml: endpoints[0]: Invalid type: Expected Object but received "${'a'.repeat(60)}…"`);
  });

  it('a text file: the messages as they were', () => {
    expect(said('endpoints:\n  - { port: 8000 }\n')).toBe('e.yaml: endpoints[0].address: Invalid key: Expected "address" but received undefined');
    expect(said('endpoints:\n  - just-a-name\n')).toBe('e.yaml: endpoints[0]: Invalid type: Expected Object but received "just-a-name"');
    expect(said('endpoints: [ { address: 127.0.0.1 ')).toMatch(/^e\.yaml: not valid YAML\/JSON: .* at line 1, column 35:\n\nendpoints: \[ \{ address: 127\.0\.0\.1 \n {34}\^\n$/);
    expect(said('endpoints:\r\n  - { address: 127.0.0.1, port: 8000 \r\n  foo: [\r\n')).toContain(':\n\n  - { address: 127.0.0.1, port: 8000 \r\n  foo: [\n  ^\n');
  });

  it('excerpt: printable text as it is; escapes for the rest, and "…" past the limit', () => {
    expect(excerpt('gemma3')).toBe('gemma3');
    expect(excerpt('a\tb\nc\x00\x1b[31m\u200b\ud800é🙂')).toBe('a\\tb\\nc\\x00\\x1b[31m\\u200b\\ud800é🙂');
    expect(excerpt('x'.repeat(60))).toBe('x'.repeat(60));
    expect(excerpt('x'.repeat(61))).toBe(`${'x'.repeat(60)}…`);
    expect(excerpt('\x00'.repeat(100)).length).toBeLessThanOrEqual(61);
  });
});

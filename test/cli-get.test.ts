/**
 * `infergate apply`, `get` and `describe` against a running admin API (an
 * in-process RoutingService over a real socket, endpoints from a fixed list),
 * read as kubectl users and their scripts read them: every -f applied,
 * `-o json|yaml` always parseable (a List unless a NAME was asked for, empty
 * too), NAME honoured by every view, NotFound with exit 1, no -o on describe.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { createAdminApp } from '../src/control/index.ts';
import type { Endpoint, EndpointSource, PoolRef } from '../src/endpoints/types.ts';
import { RoutingTableStore } from '../src/routing/store.ts';
import { listen, type Listening } from '../src/runtime/node/index.ts';
import { run as apply } from '../src/cli/commands/apply.ts';
import { run as get } from '../src/cli/commands/get.ts';
import { run as describeCommand } from '../src/cli/commands/describe.ts';

const pool = (name: string) => `apiVersion: inference.networking.k8s.io/v1
kind: InferencePool
metadata: { name: ${name} }
spec:
  selector: { matchLabels: { pool: ${name} } }
  targetPorts: [{ number: 8000 }]
  endpointPickerRef: { name: infergate }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: to-${name} }
spec:
  rules:
  - matches: [{ headers: [{ type: Exact, name: X-Gateway-Model-Name, value: ${name}-model }] }]
    backendRefs: [{ group: inference.networking.k8s.io, kind: InferencePool, name: ${name} }]
---
apiVersion: inference.networking.x-k8s.io/v1alpha2
kind: InferenceModel
metadata: { name: ${name}-model }
spec:
  modelName: ${name}-model
  poolRef: { name: ${name} }
`;

const endpoint = (port: number, pool: string): Endpoint => ({ id: `10.0.0.1:${port}`, address: '10.0.0.1', port, labels: { pool }, ready: true, engine: 'vllm' });
const ENDPOINTS = [endpoint(8001, 'alpha'), endpoint(8002, 'beta'), endpoint(8003, 'beta')];
const source: EndpointSource = {
  snapshot: (p: PoolRef) => ({ pool: p.name, endpoints: ENDPOINTS.filter((e) => e.labels.pool === p.selector.pool), at: Date.now(), hasMetrics: false }),
  notReadyReason: () => undefined,
  close: () => {},
};

async function cli(fn: (args: string[]) => Promise<number>, args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  const error = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  try {
    return { code: await fn(args), out: out.join('\n'), err: err.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

let admin: Listening;
let server: string[];
let dir: string;
beforeAll(async () => {
  admin = await listen(createAdminApp({ store: new RoutingTableStore(), endpointSource: source }).fetch, 0);
  server = ['--server', `http://127.0.0.1:${admin.port}`];
  dir = mkdtempSync(join(tmpdir(), 'infergate-cli-'));
  writeFileSync(join(dir, 'alpha.yaml'), pool('alpha'));
  writeFileSync(join(dir, 'beta.yaml'), `${pool('beta')}---
apiVersion: inference.networking.x-k8s.io/v1alpha2
kind: InferenceObjective
metadata: { name: batch }
spec: { priority: -1, poolRef: { name: beta } }
`);
  const applied = await cli(apply, ['-f', join(dir, 'alpha.yaml'), '-f', join(dir, 'beta.yaml'), ...server]);
  expect(applied.code, applied.err).toBe(0);
});
afterAll(() => admin?.close());

describe('infergate apply -f … -f …', () => {
  it('applies every file, as kubectl does: the first file’s objects are not deleted by the second', async () => {
    const pools = await cli(get, ['pools', '-o', 'json', ...server]);
    expect((JSON.parse(pools.out) as { name: string }[]).map((p) => p.name).sort()).toEqual(['alpha', 'beta']);
    const again = await cli(apply, ['-f', join(dir, 'alpha.yaml'), '--file', join(dir, 'beta.yaml'), ...server]);
    expect(again.code).toBe(0);
    expect(again.out).not.toContain('deleted');
    expect(again.out).toContain('inferencepool.inference.networking.k8s.io/alpha unchanged');
  });
});

describe('infergate get -o json|yaml', () => {
  it('gives kubectl’s List without a NAME, even of one item, and the bare object for a NAME', async () => {
    const two = JSON.parse((await cli(get, ['inferencepools', '-n', 'default', '-o', 'json', ...server])).out) as { kind: string; items: { metadata: { name: string } }[] };
    expect(two.kind).toBe('List');
    expect(two.items.map((i) => i.metadata.name).sort()).toEqual(['alpha', 'beta']);
    const one = await cli(get, ['inferenceobjectives', '-o', 'json', ...server]);
    expect(one.code).toBe(0);
    expect(JSON.parse(one.out)).toMatchObject({ apiVersion: 'v1', kind: 'List', items: [{ kind: 'InferenceObjective', metadata: { name: 'batch' } }] });
    expect(parseYaml((await cli(get, ['inferenceobjectives', '-o', 'yaml', ...server])).out)).toMatchObject({ kind: 'List', items: [{ metadata: { name: 'batch' } }] });
    const named = parseYaml((await cli(get, ['inferencemodels', 'alpha-model', '-o', 'yaml', ...server])).out) as { kind: string };
    expect(named.kind).toBe('InferenceModel');
  });

  it('gives an empty List when nothing is there, not nothing', async () => {
    const gateways = await cli(get, ['gateways', '-o', 'json', ...server]);
    expect(gateways.code).toBe(0);
    expect(JSON.parse(gateways.out)).toEqual({ apiVersion: 'v1', kind: 'List', items: [], metadata: { resourceVersion: '' } });
    expect(parseYaml((await cli(get, ['gateways', '-o', 'yaml', ...server])).out)).toMatchObject({ kind: 'List', items: [] });
    expect(JSON.parse((await cli(get, ['infpool', '-o', 'json', '-n', 'nowhere', ...server])).out)).toMatchObject({ kind: 'List', items: [] });
    // The table keeps kubectl's message, on stderr.
    expect((await cli(get, ['gateways', ...server])).err).toMatch(/^No resources found/);
  });

  it('gives endpoints as JSON and YAML, not the table', async () => {
    const json = await cli(get, ['endpoints', '-o', 'json', ...server]);
    expect(json.code).toBe(0);
    const items = JSON.parse(json.out) as { pool: string; id: string; ready: boolean }[];
    expect(items.map((e) => `${e.pool} ${e.id} ${e.ready}`)).toEqual(['alpha 10.0.0.1:8001 true', 'beta 10.0.0.1:8002 true', 'beta 10.0.0.1:8003 true']);
    const yaml = parseYaml((await cli(get, ['endpoints', '-o', 'yaml', ...server])).out) as { id: string }[];
    expect(yaml.map((e) => e.id)).toHaveLength(3);
  });
});

describe('infergate get routes|pools|models|endpoints NAME', () => {
  it('shows only what NAME names', async () => {
    const pools = await cli(get, ['pools', 'beta', ...server]);
    expect(pools.code).toBe(0);
    expect(pools.out).toMatch(/^beta /m);
    expect(pools.out).not.toMatch(/^alpha /m);
    expect((JSON.parse((await cli(get, ['pools', 'alpha', '-o', 'json', ...server])).out) as { name: string }[]).map((p) => p.name)).toEqual(['alpha']);
    const routes = await cli(get, ['routes', 'to-alpha', ...server]);
    expect(routes.out).toContain('to-alpha');
    expect(routes.out).not.toContain('to-beta');
    const models = await cli(get, ['models', 'beta-model', ...server]);
    expect(models.out).toContain('beta-model');
    expect(models.out).not.toContain('alpha-model');
    const endpoints = await cli(get, ['endpoints', 'alpha', ...server]);
    expect(endpoints.out).toContain('10.0.0.1:8001');
    expect(endpoints.out).not.toContain('10.0.0.1:8002');
  });

  it('says NotFound as kubectl does, and exits 1, when nothing matches', async () => {
    for (const [kind, plural] of [['pools', 'pools'], ['routes', 'routes'], ['models', 'models'], ['endpoints', 'pools'], ['inferencepools', 'inferencepools']] as const) {
      const r = await cli(get, [kind, 'nope', ...server]);
      expect(r.code, kind).toBe(1);
      expect(r.err, kind).toBe(`Error from server (NotFound): ${plural} "nope" not found`);
      expect(r.out, kind).toBe('');
    }
  });
});

describe('infergate describe', () => {
  it('has no -o (kubectl describe has none): not in its help, and refused', async () => {
    const help = await cli(describeCommand, ['--help']);
    expect(help.code).toBe(0);
    expect(help.out).not.toContain('--output');
    const refused = await cli(describeCommand, ['inferencepool', 'alpha', '-o', 'yaml', ...server]);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('unknown flag -o');
    const described = await cli(describeCommand, ['inferencepool', 'alpha', ...server]);
    expect(described.code).toBe(0);
    expect(described.out).toContain('Name:         alpha');
  });
});

/**
 * The admin API on Deno (Deno.serve): /healthz, /metrics and the
 * RoutingService through the real `infergate get`, request after request —
 * while the data plane (Deno's node:http through @hono/node-server) serves
 * beside it. @hono/node-server replaces the global Response by default, and
 * Deno.serve takes only its own: every admin answer then failed.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startChild, type Child } from './spawn.ts';

let child: Child;
let admin: string;
let data: string;

beforeAll(async () => {
  child = startChild(
    `${ROOT}node_modules/.bin/deno`,
    ['run', '--allow-net', '--allow-read', '--allow-env', '--allow-write', 'src/runtime/deno/main.ts', '--port', '0', '--admin-port', '0', '--manifests', 'examples/seed-use-cases.yaml', '--endpoints', 'examples/seed-endpoints.yaml'],
    { DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' },
    ROOT,
  );
  const m = await child.waitFor(/"url":"(http:\/\/[^"]+)","admin":"(http:\/\/[^"]+)"/, 30_000);
  data = m[1]!;
  admin = m[2]!;
}, 40_000);

afterAll(async () => {
  await child?.stop();
});

describe('deno: the admin API', () => {
  it('answers request after request, beside the data plane', async () => {
    for (let i = 0; i < 5; i++) {
      const health = await fetch(`${admin}/healthz`, { signal: AbortSignal.timeout(5000) });
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'ok' });
      // The data plane's node:http path (not the proxied routes) in between.
      const models = await fetch(`${data}/v1/models`, { signal: AbortSignal.timeout(5000) });
      expect(models.status).toBe(200);
    }
    const metrics = await fetch(`${admin}/metrics`, { signal: AbortSignal.timeout(5000) });
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/^# (HELP|TYPE) /m);
    // The RoutingService, through the real CLI.
    const pools = execFileSync(process.execPath, ['bin/infergate.js', 'get', 'inferencepools', '--server', admin, '-o', 'json'], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
    expect((JSON.parse(pools) as { items: unknown[] }).items.length).toBeGreaterThan(0);
    expect(child.output()).not.toMatch(/Uncaught|must be a Response/);
  });
});

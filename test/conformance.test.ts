/**
 * The Gateway API Inference Extension's conformance suite, run against
 * infergate: the suite's published manifests (`../shared/ecosystem/gie-conformance/`,
 * base.yaml and each test's file) applied as they are through the admin API,
 * echo pods on loopback standing for the suite's pods (./conformance-pods.ts),
 * and each test that applies to a gateway with a built-in picker checked the
 * way the suite's `conformance/tests/*.go` checks it: status by the suite's
 * helpers (route accepted and resolved per gateway, pool accepted by a
 * parent), traffic by the echo's answer (pod, namespace, path, method, host,
 * port) with the suite's headers. Which tests apply and why:
 * docs/compatibility.md §c.
 *
 * The picker is the conformance profile: `header-based-testing-filter` and
 * `destination-endpoint-served-verifier` (the suite's test hooks), which a
 * gateway only runs when configured for conformance.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../src/runtime/node/gateway.ts';
import { adminClients } from '../src/rpc/admin-client.ts';
import { importManifestFiles } from '../src/routing/manifests.ts';
import { tableToWire } from '../src/control/table-wire.ts';
import { objectToWire, storedFromWire } from '../src/control/manifest-wire.ts';
import type { StoredObject } from '../src/routing/object-store.ts';
import { ecosystemDir, ecosystemFile, startEchoPods, type EchoPods } from './conformance-pods.ts';

const SUITE = ecosystemDir('gie-conformance');
const APP = 'inference-conformance-app-backend';
const INFRA = 'inference-conformance-infra';
const BODY = JSON.stringify({ model: 'conformance-fake-model', prompt: 'Write as if you were a critic: San Francisco' });
const CONFORMANCE_CONFIG = `apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: single-profile-handler
- type: header-based-testing-filter
- type: queue-scorer
- type: max-score-picker
- type: destination-endpoint-served-verifier
schedulingProfiles:
- name: default
  plugins:
  - pluginRef: header-based-testing-filter
  - pluginRef: queue-scorer
  - pluginRef: max-score-picker
metricsStaleAfter: 500ms
`;

interface Echo {
  status: number;
  headers: Record<string, string>;
  body: { pod?: string; namespace?: string; path?: string; method?: string; host?: string; proto?: string; httpPort?: string; error?: unknown };
}

describe.skipIf(!SUITE)(`the Inference Extension conformance suite${SUITE ? '' : ' (skipped: ../shared/ecosystem/gie-conformance not found beside the checkout)'}`, () => {
  let pods: EchoPods;
  let gw: RunningGateway;
  let dir: string;
  const base = () => ecosystemFile(SUITE!, 'base.yaml');

  beforeAll(async () => {
    pods = await startEchoPods(base());
    dir = mkdtempSync(join(tmpdir(), 'infergate-conformance-'));
    writeFileSync(join(dir, 'endpoints.json'), JSON.stringify({ endpoints: pods.endpoints }));
    writeFileSync(join(dir, 'conformance.yaml'), CONFORMANCE_CONFIG);
    gw = await startGateway({ port: 0, adminPort: 0, endpoints: join(dir, 'endpoints.json'), schedulingConfig: join(dir, 'conformance.yaml'), log: () => {} });
  });
  afterAll(async () => {
    await gw?.close();
    await pods?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** base.yaml and the test's manifests, applied as the suite applies them (the previous test's objects are gone). */
  async function apply(...files: string[]): Promise<void> {
    const imported = importManifestFiles([{ name: 'base.yaml', text: base() }, ...files.map((f) => ({ name: f, text: ecosystemFile(SUITE!, f) }))]);
    expect(imported.errors).toEqual([]);
    await adminClients(gw.adminUrl!, undefined).routing.applyRoutingTable({ table: tableToWire(imported.table), manifestObjects: imported.objects.filter((o) => !o.ignored).map(objectToWire) });
  }

  async function object(kind: string, name: string, namespace = APP): Promise<StoredObject> {
    const res = await adminClients(gw.adminUrl!, undefined).routing.getRoutingTable({});
    const found = res.manifestObjects.map(storedFromWire).find((o) => o.kind === kind && o.name === name && o.namespace === namespace);
    if (!found) throw new Error(`${kind} ${namespace}/${name} is not on the gateway`);
    return found;
  }

  /** HTTPRouteMustBeAcceptedAndResolved: the route's parent entry for the gateway says Accepted and ResolvedRefs. */
  async function routeAcceptedAndResolved(route: string, gateway: string): Promise<void> {
    const parent = (await object('HTTPRoute', route)).parents?.find((p) => p.parentRef.name === gateway && p.parentRef.namespace === INFRA);
    expect(parent?.conditions).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'Accepted', status: 'True', reason: 'Accepted' }), expect.objectContaining({ type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs' })]));
  }

  /** InferencePoolMustBeAcceptedByParent. */
  async function poolAcceptedBy(pool: string, gateway: string): Promise<void> {
    const parent = (await object('InferencePool', pool)).parents?.find((p) => p.parentRef.namespace === INFRA && p.parentRef.name === gateway);
    expect(parent?.conditions).toContainEqual(expect.objectContaining({ type: 'Accepted', status: 'True', reason: 'Accepted' }));
  }

  function send(options: { path: string; host?: string; method?: string; headers?: Record<string, string>; body?: string }): Promise<Echo> {
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: gw.port, path: options.path, method: options.method ?? 'GET', headers: { ...(options.host ? { host: options.host } : {}), ...(options.body ? { 'content-type': 'application/json' } : {}), ...options.headers } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: Echo['body'] = {};
          try {
            body = JSON.parse(text) as Echo['body'];
          } catch {
            body = { error: text };
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers as Record<string, string>, body });
        });
      });
      req.on('error', reject);
      req.end(options.body);
    });
  }

  /** The suite's MakeRequestAndExpectEventuallyConsistentResponse: retry until 3 answers in a row pass `check`. */
  async function eventually(options: Parameters<typeof send>[0], check: (e: Echo) => void, timeoutMs = 8000): Promise<Echo> {
    const deadline = Date.now() + timeoutMs;
    let ok = 0;
    for (;;) {
      const e = await send(options);
      try {
        check(e);
        if (++ok === 3) return e;
        continue;
      } catch (err) {
        ok = 0;
        if (Date.now() > deadline) throw err;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  const servedBy = (prefix: string, expected: Partial<Echo['body']> = {}) => (e: Echo) => {
    expect(e.status, JSON.stringify(e.body)).toBe(200);
    expect(e.body.pod).toMatch(new RegExp(`^${prefix}`));
    expect(e.body).toMatchObject({ namespace: APP, ...expected });
  };
  const podsOf = (prefix: string) => pods.pods.filter((p) => p.name.startsWith(prefix));

  it('GatewayFollowingEPPRouting: every answer comes from the pods test-epp-endpoint-selection names', async () => {
    await apply('gateway_following_epp_routing.yaml');
    await routeAcceptedAndResolved('httproute-for-primary-gw', 'conformance-primary');
    await poolAcceptedBy('primary-inference-pool', 'conformance-primary');
    const primary = podsOf('primary-inference-model-server');
    const request = { path: '/primary-gateway-test', host: 'primary.example.com', method: 'POST', body: BODY };
    await eventually(request, servedBy('primary-inference-model-server', { path: '/primary-gateway-test', method: 'POST', host: 'primary.example.com' }));
    for (const chosen of [primary.slice(0, 1), primary.slice(1, 3), primary]) {
      const names = new Set(chosen.map((p) => p.name));
      const selection = { 'test-epp-endpoint-selection': chosen.map((p) => p.ip).join(',') };
      // The suite sends 100 requests, 10 at a time, per selection.
      for (let batch = 0; batch < 10; batch++) {
        const answers = await Promise.all(Array.from({ length: 10 }, () => send({ ...request, headers: selection })));
        for (const a of answers) {
          expect(a.status).toBe(200);
          expect(names.has(a.body.pod!), `${a.body.pod} not in ${[...names]}`).toBe(true);
        }
      }
    }
  });

  it('GatewayFollowingEPPRoutingWithDataParallelism: an IP picks the pod, an IP:port its rank', async () => {
    await apply('gateway_following_epp_routing_dp.yaml');
    await routeAcceptedAndResolved('httproute-for-primary-gw-dp', 'conformance-primary');
    const request = { path: '/primary-gateway-dp-test', host: 'primary.example.com', method: 'POST', body: BODY };
    const [pod] = podsOf('dp-inference-model-server');
    await eventually({ ...request, headers: { 'test-epp-endpoint-selection': pod!.ip } }, servedBy(pod!.name));
    for (const port of [3000, 3002, 3004]) {
      await eventually({ ...request, headers: { 'test-epp-endpoint-selection': `${pod!.ip}:${port}` } }, servedBy(pod!.name, { httpPort: String(port) }));
    }
  });

  it('GatewayDestinationEndpointServed: x-conformance-test-served-endpoint names the pod that served', async () => {
    await apply('gateway_destination_endpoint_served.yaml');
    for (const pod of podsOf('primary-inference-model-server')) {
      const e = await eventually({ path: '/destination-endpoint-served-test', host: 'primary.example.com', method: 'POST', body: BODY, headers: { 'test-epp-endpoint-selection': pod.ip } }, servedBy(pod.name));
      expect(e.headers['x-conformance-test-served-endpoint']).toBe(`${pod.ip}:3000`);
    }
  });

  it('GatewayWeightedAcrossTwoInferencePools: 70/30 across the two pools', async () => {
    await apply('gateway_weighted_two_pools.yaml');
    const request = { path: '/weighted-two-pools-test', host: 'primary.example.com', method: 'POST', body: BODY };
    await eventually(request, (e) => expect(e.status).toBe(200));
    let primary = 0;
    for (let batch = 0; batch < 20; batch++) {
      for (const a of await Promise.all(Array.from({ length: 10 }, () => send(request)))) {
        expect(a.status).toBe(200);
        if (a.body.pod!.startsWith('primary-inference-model-server')) primary++;
        else expect(a.body.pod).toMatch(/^secondary-inference-model-server/);
      }
    }
    // The suite's tolerance: max(0.10, 4.5 σ) around the expected share; σ = sqrt(0.7·0.3/200) ≈ 0.032.
    expect(Math.abs(primary / 200 - 0.7)).toBeLessThanOrEqual(Math.max(0.1, 4.5 * Math.sqrt((0.7 * 0.3) / 200)));
  });

  it('EppUnAvailableFailOpen (its meaning for a built-in picker): a FailOpen pool keeps serving when the picker has nothing to go on', async () => {
    await apply('epp_unavailable_fail_open.yaml');
    const request = { path: '/failopen-pool-test', host: 'secondary.example.com', method: 'POST', body: BODY };
    await eventually(request, servedBy('secondary-inference-model-server'));
    pods.failMetrics('secondary-inference-model-server', true);
    try {
      await new Promise((r) => setTimeout(r, 800)); // past metricsStaleAfter: the picker has no fresh metrics
      for (let i = 0; i < 10; i++) servedBy('secondary-inference-model-server')(await send(request));
    } finally {
      pods.failMetrics('secondary-inference-model-server', false);
    }
  });

  it('HTTPRouteInvalidInferencePoolRef: the route is accepted, its refs not resolved (BackendNotFound); apply refuses the file', () => {
    const imported = importManifestFiles([{ name: 'base.yaml', text: base() }, { name: 'r.yaml', text: ecosystemFile(SUITE!, 'httproute_invalid_inferencepool_ref.yaml') }]);
    const route = imported.objects.find((o) => o.name === 'httproute-to-non-existent-pool')!;
    const parent = route.parents!.find((p) => p.parentRef.name === 'conformance-primary')!;
    expect(parent.conditions).toEqual([expect.objectContaining({ type: 'Accepted', status: 'True', reason: 'Accepted' }), expect.objectContaining({ type: 'ResolvedRefs', status: 'False', reason: 'BackendNotFound' })]);
    expect(imported.errors.map((e) => e.object)).toEqual(['HTTPRoute/httproute-to-non-existent-pool']);
  });

  it('HTTPRouteMultipleGatewaysDifferentPools: each gateway host reaches its own pool', async () => {
    await apply('httproute_multiple_gateways_different_pools.yaml');
    await routeAcceptedAndResolved('route-for-primary-gateway', 'conformance-primary');
    await routeAcceptedAndResolved('route-for-secondary-gateway', 'conformance-secondary');
    await poolAcceptedBy('primary-inference-pool', 'conformance-primary');
    await poolAcceptedBy('secondary-inference-pool', 'conformance-secondary');
    await eventually({ path: '/test-primary-gateway', host: 'primary.example.com' }, servedBy('primary-inference-model-server', { method: 'GET', host: 'primary.example.com' }));
    await eventually({ path: '/test-secondary-gateway', host: 'secondary.example.com' }, servedBy('secondary-inference-model-server', { method: 'GET' }));
    // The secondary listener accepts only its own host.
    expect((await send({ path: '/test-secondary-gateway', host: 'primary.example.com' })).status).toBe(404);
  });

  it('HTTPRouteMultipleRulesDifferentPools: each path rule reaches its own pool', async () => {
    await apply('inferencepool_multiple_rules_different_pools.yaml');
    await eventually({ path: '/primary' }, servedBy('primary-inference-model-server'));
    await eventually({ path: '/secondary' }, servedBy('secondary-inference-model-server'));
  });

  it('InferencePoolAccepted and InferencePoolControllerName: the pool is accepted by its gateway, under a domain-prefixed controller name', async () => {
    await apply('inferencepool_accepted.yaml');
    await poolAcceptedBy('primary-inference-pool', 'conformance-primary');
    const pool = await object('InferencePool', 'primary-inference-pool');
    for (const p of pool.parents!) expect(p.controllerName).toMatch(/^[a-z0-9.-]+\.[a-z]+\/[A-Za-z0-9/_.-]+$/);
  });

  it('InferencePoolAppProtocol: http and the default reach port 3000 over HTTP/1.1; a kubernetes.io/h2c pool reaches port 3001 over HTTP/2 cleartext', async () => {
    await apply('inferencepool_appprotocol.yaml');
    for (const [host, path] of [['appprotocol-http.example.com', '/inferencepool-app-protocol-http'], ['appprotocol-default.example.com', '/inferencepool-app-protocol-default']] as const) {
      const prefix = host.startsWith('appprotocol-http') ? 'appprotocol-inference-model-server' : 'primary-inference-model-server';
      const pod = podsOf(prefix)[0]!;
      const e = await eventually({ path, host, method: 'POST', body: BODY, headers: { 'test-epp-endpoint-selection': pod.ip } }, servedBy(pod.name, { proto: 'HTTP/1.1' }));
      expect(e.headers['x-conformance-test-served-endpoint']).toBe(`${pod.ip}:3000`);
    }
    for (const pod of podsOf('appprotocol-inference-model-server')) {
      const e = await eventually(
        { path: '/inferencepool-app-protocol-h2c', host: 'appprotocol-h2c.example.com', method: 'POST', body: BODY, headers: { 'test-epp-endpoint-selection': pod.ip } },
        servedBy(pod.name, { proto: 'HTTP/2.0', host: 'appprotocol-h2c.example.com', path: '/inferencepool-app-protocol-h2c', method: 'POST' }),
      );
      expect(e.headers['x-conformance-test-served-endpoint']).toBe(`${pod.ip}:${pod.h2cPort}`);
    }
    // The agent reads the h2c pods' metrics over h2c too: ready, scraped, no error.
    const pool = [...gw.store.current!.pools.values()].find((p) => p.appProtocol === 'h2c')!;
    const seen = gw.endpoints.snapshot(pool).endpoints;
    expect(seen.map((e) => e.port)).toEqual(podsOf('appprotocol-inference-model-server').map((p) => p.h2cPort));
    for (const e of seen) expect(e, JSON.stringify(e)).toMatchObject({ ready: true, scrapedAt: expect.any(Number) });
    expect(seen.every((e) => e.lastError === undefined && e.metrics !== undefined)).toBe(true);
  });

  it('InferencePoolHTTPRoutePortValidation: a backendRef port on an InferencePool is ignored', async () => {
    await apply('inferencepool_httproute_port_validation.yaml');
    for (const [host, path] of [['port-unspecified.example.com', '/test-port-unspecified'], ['port-matching.example.com', '/test-port-matching'], ['port-non-matching.example.com', '/test-port-non-matching']] as const) {
      await eventually({ path, host }, servedBy('primary-inference-model-server'));
    }
  });

  it('InferencePoolMissingEPPRef: a pool without endpointPickerRef is accepted (infergate picks endpoints itself)', async () => {
    await apply('inferencepool_missing_epp_ref.yaml');
    const pool = await object('InferencePool', 'pool-with-missing-epp-ref');
    expect(pool.conditions).toContainEqual(expect.objectContaining({ type: 'Accepted', status: 'True' }));
    expect((await object('HTTPRoute', 'httproute-for-missing-epp-ref-pool')).conditions).toContainEqual(expect.objectContaining({ type: 'Accepted', status: 'True' }));
  });

  it('InferencePoolResolvedRefsCondition: parents follow the routes; a deleted route stops its traffic', async () => {
    await apply('inferencepool_resolvedrefs_condition.yaml');
    await poolAcceptedBy('primary-inference-pool', 'conformance-primary');
    await poolAcceptedBy('primary-inference-pool', 'conformance-secondary');
    const primary = { path: '/primary-gateway-test', host: 'primary.example.com' };
    const secondary = { path: '/secondary-gateway-test', host: 'secondary.example.com' };
    await eventually(primary, servedBy('primary-inference-model-server'));
    await eventually(secondary, servedBy('primary-inference-model-server'));
    // Delete the primary route: re-apply without it.
    const manifest = ecosystemFile(SUITE!, 'inferencepool_resolvedrefs_condition.yaml');
    const [, secondaryRoute] = manifest.split(/^---$/m).filter((d) => d.includes('kind: HTTPRoute'));
    const withOnly = async (docs: string[]) => {
      const imported = importManifestFiles([{ name: 'base.yaml', text: base() }, { name: 'routes.yaml', text: docs.join('\n---\n') }]);
      await adminClients(gw.adminUrl!, undefined).routing.applyRoutingTable({ table: tableToWire(imported.table), manifestObjects: imported.objects.filter((o) => !o.ignored).map(objectToWire) });
    };
    await withOnly([secondaryRoute!]);
    expect((await send(primary)).status).toBe(404);
    await eventually(secondary, servedBy('primary-inference-model-server'));
    expect((await object('InferencePool', 'primary-inference-pool')).parents!.map((p) => p.parentRef.name)).toEqual(['conformance-secondary']);
    await withOnly([]);
    expect((await object('InferencePool', 'primary-inference-pool')).parents).toEqual([]);
    expect((await send(secondary)).status).toBe(404);
  });
});

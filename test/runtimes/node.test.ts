/** The end-to-end suite against the gateway on Node (in this process, as `infergate gateway` runs it). */
import { afterAll, beforeAll } from 'vitest';
import { startGateway, type RunningGateway } from '../../src/runtime/node/gateway.ts';
import { BODY_LIMIT, startFixture, waitForOk, type Fixture } from './fixture.ts';
import { dataPathSuite } from './suite.ts';

let fixture: Fixture;
let gateway: RunningGateway;

beforeAll(async () => {
  fixture = await startFixture();
  gateway = await startGateway({ port: 0, manifests: fixture.manifests, endpoints: fixture.endpointsFile, bodyLimit: BODY_LIMIT, tenantHeader: 'x-tenant', log: () => {} });
  await waitForOk(`${gateway.url}/readyz`, 5000);
  await new Promise((r) => setTimeout(r, 200)); // a few scrapes
});
afterAll(async () => {
  await gateway?.close();
  await fixture?.close();
});

dataPathSuite(() => ({ url: gateway.url, fixture }));

/** The end-to-end suite against the gateway on Deno (src/runtime/deno/main.ts, the `deno` npm package's binary). */
import { afterAll, beforeAll } from 'vitest';
import { BODY_LIMIT, startFixture, waitForOk, type Fixture } from './fixture.ts';
import { ROOT, startChild, type Child } from './spawn.ts';
import { dataPathSuite } from './suite.ts';

let fixture: Fixture;
let deno: Child;
let url: string;

beforeAll(async () => {
  fixture = await startFixture();
  deno = startChild(
    `${ROOT}node_modules/.bin/deno`,
    ['run', '--allow-net', '--allow-read', '--allow-env', '--allow-write', 'src/runtime/deno/main.ts', '--port', '0', '--admin-port', '-1', '--manifests', fixture.manifests, '--endpoints', fixture.endpointsFile, '--tenant-header', 'x-tenant'],
    // Flags and INFERGATE_* environment variables are read alike: the body limit comes from the environment.
    { INFERGATE_BODY_LIMIT: String(BODY_LIMIT), DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' },
    ROOT,
  );
  url = (await deno.waitFor(/"url":"(http:\/\/[^"]+)"/, 30_000))[1]!;
  await waitForOk(`${url}/readyz`, 5000);
  await new Promise((r) => setTimeout(r, 200));
}, 40_000);
afterAll(async () => {
  await deno?.stop();
  await fixture?.close();
});

dataPathSuite(() => ({ url, fixture }));

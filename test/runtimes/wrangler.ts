/**
 * Start the Worker under `wrangler dev --local` (workerd, no network beyond
 * loopback): the routing table of `manifests` bundled the way the deploy-time
 * build does it, wrangler.toml without its [build] step (so edits elsewhere in
 * the checkout do not rebuild it mid-test), telemetry and the Request.cf
 * download off, no Cloudflare credentials.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleTable } from '../../src/runtime/workers/bundle-table.ts';
import { waitForOk } from './fixture.ts';
import { freePort, ROOT, startChild, type Child } from './spawn.ts';

export interface WranglerDev {
  url: string;
  child: Child;
  stop(): Promise<void>;
}

export async function startWranglerDev(options: { manifests: string; vars: Record<string, string> }): Promise<WranglerDev> {
  await bundleTable(options.manifests);
  const dir = join(ROOT, 'build/workers');
  mkdirSync(dir, { recursive: true });
  const config = readFileSync(join(ROOT, 'wrangler.toml'), 'utf8')
    .replace(/^\[build\][\s\S]*?(?=^\[)/m, '')
    .replace(/^main = .*$/m, 'main = "../../src/runtime/workers.ts"');
  const configPath = join(dir, `wrangler.test-${process.pid}.toml`);
  writeFileSync(configPath, config);
  const port = await freePort();
  const args = ['dev', '--local', '--config', configPath, '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(await freePort()), '--persist-to', mkdtempSync(join(tmpdir(), 'infergate-wrangler-')), '--log-level', 'warn'];
  for (const [k, v] of Object.entries(options.vars)) args.push('--var', `${k}:${v}`);
  const child = startChild(
    join(ROOT, 'node_modules/.bin/wrangler'),
    args,
    { CLOUDFLARE_API_TOKEN: undefined, CLOUDFLARE_ACCOUNT_ID: undefined, WRANGLER_SEND_METRICS: 'false', WRANGLER_SEND_ERROR_REPORTS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', NO_COLOR: '1' },
    ROOT,
  );
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await child.stop();
    rmSync(configPath, { force: true });
  };
  try {
    await waitForOk(`${url}/readyz`, 60_000);
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\nwrangler output:\n${child.output()}`);
  }
  return { url, child, stop };
}

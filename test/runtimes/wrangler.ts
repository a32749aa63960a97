/**
 * Start the Worker under `wrangler dev --local` (workerd, no network beyond
 * loopback). It is first bundled once the way `wrangler deploy` bundles it
 * (`--dry-run --outdir`, with the routing table of `manifests` bundled as the
 * deploy-time build does), then served unbundled from that output: wrangler
 * dev would otherwise rebuild and restart the Worker — losing the Durable
 * Objects' state mid-test — whenever anyone edits a source file in the
 * checkout. Telemetry and the Request.cf download are off, no credentials.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

const ENV = { CLOUDFLARE_API_TOKEN: undefined, CLOUDFLARE_ACCOUNT_ID: undefined, WRANGLER_SEND_METRICS: 'false', WRANGLER_SEND_ERROR_REPORTS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', NO_COLOR: '1' };
const WRANGLER = join(ROOT, 'node_modules/.bin/wrangler');

/** wrangler.toml without its [build] step (the test runs it), for a config file in `dir`. */
function configFrom(main: string, extra = ''): string {
  return readFileSync(join(ROOT, 'wrangler.toml'), 'utf8')
    .replace(/^\[build\][\s\S]*?(?=^\[)/m, '')
    .replace(/^main = .*$/m, `main = ${JSON.stringify(main)}\n${extra}`);
}

/** Bundle the Worker as `wrangler deploy` would, into `dir`/dist. */
export async function bundleWorker(dir: string, manifests: string): Promise<void> {
  await bundleTable(manifests);
  const config = join(dir, 'wrangler.bundle.toml');
  writeFileSync(config, configFrom(join(ROOT, 'src/runtime/workers/main.ts')));
  const child = startChild(WRANGLER, ['deploy', '--dry-run', '--config', config, '--outdir', join(dir, 'dist')], ENV, ROOT);
  await child.waitFor(/--dry-run: exiting now/, 60_000);
  await child.stop();
}

export async function startWranglerDev(options: { manifests: string; vars: Record<string, string>; bundled?: string }): Promise<WranglerDev> {
  const dir = options.bundled ?? mkdtempSync(join(tmpdir(), 'infergate-worker-'));
  if (!options.bundled) await bundleWorker(dir, options.manifests);
  const config = join(dir, `wrangler.dev-${Date.now()}.toml`);
  writeFileSync(config, configFrom('dist/main.js', 'no_bundle = true\nfind_additional_modules = true\nbase_dir = "dist"\nrules = [{ type = "CompiledWasm", globs = ["**/*.wasm"], fallthrough = true }]'));
  const port = await freePort();
  const args = ['dev', '--local', '--config', config, '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(await freePort()), '--persist-to', join(dir, 'state'), '--log-level', process.env.INFERGATE_WRANGLER_LOG ?? 'warn'];
  for (const [k, v] of Object.entries(options.vars)) args.push('--var', `${k}:${v}`);
  const child = startChild(WRANGLER, args, ENV, ROOT);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await child.stop();
    if (!options.bundled) rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForOk(`${url}/readyz`, 60_000);
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\nwrangler output:\n${child.output()}`);
  }
  return { url, child, stop };
}

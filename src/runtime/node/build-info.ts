/**
 * What this build is, for `inference_extension_info` and the traces'
 * `service.version`: the package version, and the commit when the build
 * environment names it (INFERGATE_BUILD_COMMIT, e.g. set by an image build).
 */
import { readFileSync } from 'node:fs';
import type { BuildInfo } from '../../gateway/pool-metrics.ts';

let cached: BuildInfo | undefined;

export function buildInfo(): BuildInfo {
  if (cached) return cached;
  let version = '';
  try {
    version = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? '';
  } catch (err) {
    // Run from a bundle without package.json beside it: the version is unknown, not wrong.
    void err;
  }
  cached = { commit: process.env.INFERGATE_BUILD_COMMIT ?? '', buildRef: version ? `v${version}` : '' };
  return cached;
}

/**
 * The page's files (HTML, CSS, the bundled JS with uPlot) as the dashboard
 * app reads them. `npm run build:dashboard` bundles them and writes both
 * `build/dashboard/*` and `build/dashboard/assets.ts`, a module holding them
 * as strings: every runtime (Node, Deno, workerd) can import a module, while
 * reading files would need an adapter per runtime and a bundling rule on
 * Workers. embedded-assets.ts is that module behind this port.
 */
export interface DashboardAsset {
  contentType: string;
  body: string;
  /** Strong validator for If-None-Match (a hash of the body). */
  etag: string;
}

export interface DashboardAssets {
  /** The asset by file name (`index.html`, `dashboard.js`, …), or undefined. */
  get(name: string): DashboardAsset | undefined;
}

/** The files the page is made of; the build writes exactly these. */
export const ASSET_NAMES = ['index.html', 'dashboard.js', 'dashboard.css', 'uplot.min.css'] as const;

/**
 * Modules that exist only when wrangler bundles the Worker: the compiled
 * kernel (wrangler's CompiledWasm rule), the routing table bundled at deploy
 * time (bundle-table.ts), and the Durable Object base class.
 */
declare module '*.wasm' {
  const module: WebAssembly.Module;
  export default module;
}

declare module '*/routing-table.bundle.js' {
  import type { BundledTable } from './bundled.ts';
  const bundled: BundledTable;
  export default bundled;
}

declare module 'cloudflare:workers' {
  export abstract class DurableObject<Env = unknown> {
    protected ctx: import('./types.ts').DurableObjectState;
    protected env: Env;
    constructor(ctx: import('./types.ts').DurableObjectState, env: Env);
  }
}

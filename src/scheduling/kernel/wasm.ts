/**
 * Instantiate the compiled kernel (build/kernel.wasm) and wrap it in the
 * Kernel interface. The runtime supplies the module: Node/Deno compile it from
 * the file (src/runtime), Workers import it.
 */
import { viewsAt, type Kernel } from './layout.ts';

interface KernelExports {
  memory: WebAssembly.Memory;
  region(i: number): number;
  scoreAndPick(n: number, scorers: number, promptBlocks: number, picker: number, seed: number, fallbacks: number): number;
  hashPrompt(modelLen: number, promptLen: number, maxBlocks: number): number;
}

/** Accepts a compiled module or the .wasm bytes (compiled synchronously). */
export function instantiateKernel(source: WebAssembly.Module | BufferSource): Kernel {
  const module = source instanceof WebAssembly.Module ? source : new WebAssembly.Module(source);
  const instance = new WebAssembly.Instance(module, {
    env: {
      abort() {
        throw new Error('scheduling kernel aborted');
      },
    },
  });
  const raw = instance.exports as unknown as KernelExports;
  // The kernel never allocates, so memory never grows and these views stay valid.
  const views = viewsAt(raw.memory.buffer, (r) => raw.region(r) >>> 0);
  return {
    implementation: 'wasm',
    ...views,
    scoreAndPick: raw.scoreAndPick,
    hashPrompt: raw.hashPrompt,
  };
}

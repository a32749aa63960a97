/**
 * The compiled scheduling kernel, build/kernel.wasm (`npm run build:kernel`),
 * found relative to this file. Throws with what to run when it is missing.
 */
export async function loadKernelModule(url = new URL('../../../build/kernel.wasm', import.meta.url)): Promise<WebAssembly.Module> {
  const { readFile } = await import('node:fs/promises');
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = new Uint8Array(await readFile(url));
  } catch (err) {
    throw new Error(`cannot read the scheduling kernel ${url.pathname} (run \`npm run build:kernel\`): ${(err as Error).message}`);
  }
  return WebAssembly.compile(bytes);
}

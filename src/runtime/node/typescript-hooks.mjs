// Module hooks (node:module `register`) that load the project's TypeScript on
// Node: each `.ts` file is transpiled by esbuild, alone (the sources are
// written for isolated modules, with `.ts` import extensions, as Deno and
// workerd load them), with an inline source map.
//
// tsx did this before, with esbuild's `keepNames` always on: every function
// or class made at run time (an arrow function in a class field, a closure
// per request) then went through an `Object.defineProperty` of its name —
// about 3.5 µs of the gateway's 19 µs of its own CPU per proxied request
// (bench/proxy/gateway-cpu.ts). Without minification no name changes, so the
// names stay as they were.
//
// Transpiled files are cached by the hash of their source and path in
// node_modules/.cache/infergate-ts (else the OS's temporary directory), so a
// second start reads them instead of transpiling again.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transformSync, version } from 'esbuild';

const OPTIONS = {
  loader: 'ts',
  format: 'esm',
  target: 'node20',
  sourcemap: 'inline',
  tsconfigRaw: { compilerOptions: { verbatimModuleSyntax: true, useDefineForClassFields: true } },
};

function cacheDir() {
  const candidates = [fileURLToPath(new URL('../../../node_modules/.cache/infergate-ts/', import.meta.url)), join(tmpdir(), 'infergate-ts')];
  for (const dir of candidates) {
    try {
      mkdirSync(dir, { recursive: true });
      return dir;
    } catch {
      // Read-only: the next one.
    }
  }
  return undefined;
}

const dir = cacheDir();
const salt = `${version} ${JSON.stringify(OPTIONS)}\n`;

function transpile(path) {
  const source = readFileSync(path, 'utf8');
  const key = dir && createHash('sha256').update(salt).update(path).update('\n').update(source).digest('hex').slice(0, 40);
  if (key) {
    try {
      return readFileSync(join(dir, `${key}.mjs`), 'utf8');
    } catch {
      // Not cached yet.
    }
  }
  const { code } = transformSync(source, { ...OPTIONS, sourcefile: path });
  if (key) {
    try {
      // Written aside and renamed, so a process starting beside this one never reads half a file.
      const tmp = join(dir, `${key}.${process.pid}.tmp`);
      writeFileSync(tmp, code);
      renameSync(tmp, join(dir, `${key}.mjs`));
    } catch {
      // A cache that cannot be written only costs the next start its time.
    }
  }
  return code;
}

export async function load(url, context, nextLoad) {
  if (url.startsWith('file:') && url.endsWith('.ts')) {
    return { format: 'module', source: transpile(fileURLToPath(url)), shortCircuit: true };
  }
  return nextLoad(url, context);
}

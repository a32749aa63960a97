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
// node_modules/.cache/infergate-ts (else ~/.cache/infergate-ts; a directory
// someone else owns or may write in is not used), so a second start reads
// them instead of transpiling again.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
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
  // The project's own node_modules (whoever can write there can change the code anyway), else the user's cache
  // directory — never a shared one such as /tmp, where another user could plant a module this process would run.
  const candidates = [fileURLToPath(new URL('../../../node_modules/.cache/infergate-ts/', import.meta.url)), join(homedir(), '.cache', 'infergate-ts')];
  for (const dir of candidates) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const st = statSync(dir);
      // Ours, and nobody else may write in it.
      if (typeof process.getuid === 'function' && st.uid !== process.getuid()) continue;
      if ((st.mode & 0o022) !== 0) continue;
      return dir;
    } catch {
      // Not writable: the next one.
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
      const tmp = join(dir, `${key}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
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

#!/usr/bin/env node
// The `infergate` command. The sources are TypeScript with `.ts` import
// extensions (so Deno and workerd load the same files); on Node, esbuild
// transpiles them at load time (src/runtime/node/typescript.mjs).
import '../src/runtime/node/typescript.mjs';

const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));

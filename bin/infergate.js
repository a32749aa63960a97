#!/usr/bin/env node
// The `infergate` command. The sources are TypeScript with `.ts` import
// extensions (so Deno and workerd load the same files); on Node, tsx
// transpiles them at load time.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));

// `node --import ./typescript.mjs …`, or imported first: the project's
// TypeScript loads on Node through ./typescript-hooks.mjs, and stack traces
// point into the .ts sources.
import { register } from 'node:module';

register('./typescript-hooks.mjs', import.meta.url);
process.setSourceMapsEnabled(true);

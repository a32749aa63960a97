/**
 * The core is web-standard: no file outside src/runtime/ imports Node's
 * built-in modules (`node:*` or bare `fs`, `http`…) or a Node-only npm
 * package, touches Node's or Deno's globals, or uses Workers-only APIs.
 * Files are parsed with TypeScript, so comments and strings never count.
 * Unit tests beside the code (`*.test.ts`) are exempt: vitest runs them on Node.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../', import.meta.url).pathname;

/** npm packages that only work on Node (sockets, node:http, worker_threads…). */
const NODE_ONLY_PACKAGES = ['undici', '@kubernetes/client-node', '@hono/node-server', '@connectrpc/connect-node', 'tsx', 'ws', 'node-fetch', 'zeromq'];
/** Globals of one runtime, flagged where a property of them is read (`process.env`, `Deno.serve`). */
const RUNTIME_GLOBALS: Record<string, string> = { process: 'Node', Buffer: 'Node', global: 'Node', Deno: 'Deno', Bun: 'Bun' };
/** Identifiers that exist only on Workers. */
const WORKERS_ONLY = new Set(['HTMLRewriter', 'WebSocketPair', 'DurableObject', 'DurableObjectState', 'DurableObjectNamespace', 'ExecutionContext', 'ScheduledEvent']);
const NODE_BARE = new Set(builtinModules.filter((m) => !m.startsWith('_')));
const NODE_SCRIPT_GLOBALS = new Set(['require', '__dirname', '__filename']);

export function violations(fileName: string, text: string): string[] {
  const found: string[] = [];
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const at = (node: ts.Node) => `${fileName}:${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1}`;
  const checkSpecifier = (spec: string, node: ts.Node) => {
    const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
    if (spec.startsWith('node:') || NODE_BARE.has(pkg)) found.push(`${at(node)} imports Node built-in "${spec}"`);
    else if (NODE_ONLY_PACKAGES.includes(pkg)) found.push(`${at(node)} imports Node-only package "${spec}"`);
    else if (spec.startsWith('cloudflare:')) found.push(`${at(node)} imports Workers-only module "${spec}"`);
    else if (spec.endsWith('.wasm')) found.push(`${at(node)} imports a .wasm module (a bundler/Workers feature; the runtime supplies the kernel)`);
    else if (spec.startsWith('jsr:') || spec.startsWith('https:')) found.push(`${at(node)} imports "${spec}" (Deno-only specifier)`);
  };
  const visit = (node: ts.Node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      checkSpecifier(node.moduleSpecifier.text, node);
    } else if (ts.isCallExpression(node) && node.arguments.length > 0 && ts.isStringLiteralLike(node.arguments[0]!)) {
      const callee = node.expression;
      if (callee.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(callee) && callee.text === 'require')) checkSpecifier(node.arguments[0].text, node);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      checkSpecifier(node.argument.literal.text, node);
    }
    if (ts.isPropertyAccessExpression(node) && ts.isIdentifier(node.expression)) {
      const runtime = RUNTIME_GLOBALS[node.expression.text];
      if (runtime) found.push(`${at(node)} uses ${runtime}'s global ${node.expression.text}.${node.name.text}`);
      if (node.expression.text === 'caches' && node.name.text === 'default') found.push(`${at(node)} uses Workers' caches.default`);
    }
    if (ts.isPropertyAccessExpression(node) && RUNTIME_GLOBALS[node.name.text] && isGlobalObject(node.expression)) {
      found.push(`${at(node)} reaches ${RUNTIME_GLOBALS[node.name.text]}'s global ${node.name.text} through the global object`);
    }
    if (ts.isIdentifier(node) && !(ts.isPropertyAccessExpression(node.parent) && node.parent.name === node) && !ts.isPropertyAssignment(node.parent)) {
      if (WORKERS_ONLY.has(node.text)) found.push(`${at(node)} uses Workers-only ${node.text}`);
      if (NODE_SCRIPT_GLOBALS.has(node.text) && !ts.isImportSpecifier(node.parent)) found.push(`${at(node)} uses Node's ${node.text}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** `globalThis`, `self` or `window`, possibly wrapped in parentheses or type assertions. */
function isGlobalObject(node: ts.Expression): boolean {
  while (ts.isParenthesizedExpression(node) || ts.isAsExpression(node) || ts.isNonNullExpression(node) || ts.isTypeAssertionExpression(node)) node = node.expression;
  return ts.isIdentifier(node) && (node.text === 'globalThis' || node.text === 'self' || node.text === 'window');
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

describe('runtime neutrality', () => {
  it('no file outside src/runtime/ uses Node-, Deno- or Workers-only APIs or packages', () => {
    const files = sourceFiles(join(ROOT, 'src')).filter((f) => !relative(ROOT, f).startsWith('src/runtime/') && !f.endsWith('.test.ts'));
    expect(files.length).toBeGreaterThan(50);
    const found = files.flatMap((f) => violations(relative(ROOT, f), readFileSync(f, 'utf8')));
    expect(found).toEqual([]);
  });

  it('the check itself catches each kind of violation, and not comments or strings', () => {
    const text = [
      "import { readFile } from 'node:fs/promises';",
      "import http from 'http';",
      "import { request } from 'undici';",
      "import type { ServerType } from '@hono/node-server';",
      "import { DurableObject } from 'cloudflare:workers';",
      "import kernel from '../build/kernel.wasm';",
      "const os = await import('node:os');",
      'const home = process.env.HOME;',
      "const text = await Deno.readTextFile('x');",
      "const b = Buffer.from('x');",
      'const rewriter = new HTMLRewriter();',
      '// import { x } from "node:fs"; process.env.X; Deno.env',
      "const s = 'node:fs process.env Deno.serve';",
      "const d = (globalThis as { Deno?: unknown }).Deno;",
      'const ok = { process: 1 }.process;',
    ].join('\n');
    const found = violations('sample.ts', text);
    const lines = new Set(found.map((f) => Number(f.split(' ')[0]!.split(':')[1])));
    expect([...lines].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 14]);
  });

  it('the runtime entries are where runtime APIs live (the check sees them there)', () => {
    const runtime = sourceFiles(join(ROOT, 'src/runtime'));
    const flagged = new Set(runtime.filter((f) => violations(f, readFileSync(f, 'utf8')).length > 0).map((f) => relative(join(ROOT, 'src/runtime'), f)));
    expect(flagged).toContain('node/files.ts');
    expect(flagged).toContain('deno/api.ts');
  });
});

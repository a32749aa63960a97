/**
 * The layout's rules (docs/architecture.md): the top-level folders of src/
 * import each other in one direction only — the graph of folder imports has
 * no cycle — and no source file grows past 400 lines. Imports are read with
 * TypeScript (type-only imports count: a cycle of types is still a cycle).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../', import.meta.url).pathname;
const SRC = join(ROOT, 'src');

function files(dir: string, test = false): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && (test || !e.name.endsWith('.test.ts')))
    .map((e) => join(e.parentPath, e.name))
    .filter((f) => !f.includes('/gen/'));
}

/** The relative module specifiers a file imports or re-exports (static and dynamic). */
export function importsOf(fileName: string, text: string): string[] {
  const out: string[] = [];
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const visit = (node: ts.Node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) out.push(node.moduleSpecifier.text);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteralLike(node.arguments[0])) out.push(node.arguments[0].text);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) out.push(node.argument.literal.text);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out.filter((s) => s.startsWith('.'));
}

/** Edges between top-level folders of src/: folder → folders it imports, with one file that does. */
export function folderGraph(root: string, sources: string[]): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  const folderOf = (f: string) => relative(root, f).split('/')[0]!;
  for (const f of sources) {
    const from = folderOf(f);
    for (const spec of importsOf(f, readFileSync(f, 'utf8'))) {
      const target = resolve(dirname(f), spec);
      if (!target.startsWith(root + '/')) continue;
      const to = folderOf(target);
      if (to === from || to === 'gen') continue;
      if (!graph.has(from)) graph.set(from, new Map());
      if (!graph.get(from)!.has(to)) graph.get(from)!.set(to, relative(ROOT, f));
    }
  }
  return graph;
}

/** One cycle in the graph (as a path of folders), or undefined. */
export function findCycle(graph: Map<string, Map<string, string>>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string): string[] | undefined => {
    if (state.get(node) === 'done') return undefined;
    if (state.get(node) === 'open') return [...path.slice(path.indexOf(node)), node];
    state.set(node, 'open');
    path.push(node);
    for (const next of graph.get(node)?.keys() ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of graph.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return undefined;
}

describe('architecture', () => {
  it('the top-level folders of src/ import each other in one direction (no cycle)', () => {
    const graph = folderGraph(SRC, files(SRC));
    expect(graph.size).toBeGreaterThan(8);
    const cycle = findCycle(graph);
    const explain = cycle?.slice(1).map((to, i) => `${cycle[i]} → ${to} (${graph.get(cycle[i]!)!.get(to)})`);
    expect(explain).toBeUndefined();
  });

  it('the check finds a cycle when there is one, and none when there is not', () => {
    const g = (edges: string[]) => {
      const m = new Map<string, Map<string, string>>();
      for (const e of edges) {
        const [a, b] = e.split('>') as [string, string];
        if (!m.has(a)) m.set(a, new Map());
        m.get(a)!.set(b, 'x.ts');
      }
      return m;
    };
    expect(findCycle(g(['api>http', 'routing>api', 'gateway>routing', 'gateway>api']))).toBeUndefined();
    expect(findCycle(g(['api>gateway', 'gateway>routing', 'routing>api']))).toEqual(['api', 'gateway', 'routing', 'api']);
    expect(importsOf('x.ts', "import type { A } from './a.ts';\nexport * from '../b.ts';\nconst c = await import('./c.ts');\n// import './d.ts'")).toEqual(['./a.ts', '../b.ts', './c.ts']);
  });

  it('the leaf HTTP contract (src/http/) imports nothing else of the project', () => {
    const outside = files(join(SRC, 'http')).flatMap((f) => importsOf(f, readFileSync(f, 'utf8')).filter((s) => !resolve(dirname(f), s).startsWith(join(SRC, 'http'))).map((s) => `${relative(ROOT, f)} imports ${s}`));
    expect(outside).toEqual([]);
  });

  it('packages/ import nothing from src/', () => {
    const pkgs = join(ROOT, 'packages');
    const outside = files(pkgs, true).flatMap((f) => importsOf(f, readFileSync(f, 'utf8')).filter((s) => resolve(dirname(f), s).startsWith(SRC)).map((s) => `${relative(ROOT, f)} imports ${s}`));
    expect(outside).toEqual([]);
  });

  it('no source file is over 400 lines', () => {
    const long = [...files(SRC, true), ...files(join(ROOT, 'packages'), true)]
      .map((f) => ({ f: relative(ROOT, f), lines: readFileSync(f, 'utf8').split('\n').length }))
      .filter((x) => x.lines > 400)
      .map((x) => `${x.f}: ${x.lines} lines`);
    expect(long).toEqual([]);
  });
});

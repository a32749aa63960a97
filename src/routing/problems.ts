/** A problem found in a routing table or a manifest, named the way an operator finds it. */
export interface Problem {
  /** `Kind/name`, e.g. `HTTPRoute/routes-to-llms` or `Pool/gemma3`. */
  object: string;
  /** Field path inside the object, e.g. `spec.rules[0].backendRefs[1].name`. */
  path: string;
  message: string;
}

export function formatProblem(p: Problem): string {
  return p.path ? `${p.object}: ${p.path}: ${p.message}` : `${p.object}: ${p.message}`;
}

/** Turn valibot issues into field paths like `rules[0].backendRefs[1].weight`. */
export function issuePath(issue: { path?: ReadonlyArray<{ key: unknown }> }): string {
  let out = '';
  for (const item of issue.path ?? []) {
    const key = item.key;
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out;
}

/** A valibot issue's message, with its generic wording for missing and unknown keys said plainly. */
export function issueMessage(issue: { message: string; input?: unknown; expected?: string | null; received?: string }): string {
  if (issue.message.startsWith('Invalid key: Expected never')) return 'is not a known field';
  if (issue.message.startsWith('Invalid key:') && issue.received === 'undefined') return 'is required';
  return issue.message;
}

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
  return boundedIssueMessage(issue);
}

/** At most this many characters of a value an error quotes from a file (its escapes included), then "…". */
export const EXCERPT_LENGTH = 60;

/** Characters a terminal does not show as themselves: controls, format and unassigned ones, lone surrogates, line separators, and U+FFFD (a byte that is not UTF-8). */
const NON_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\uFFFD]/u;

function escapeChar(ch: string): string {
  if (ch === '\n') return '\\n';
  if (ch === '\r') return '\\r';
  if (ch === '\t') return '\\t';
  const code = ch.codePointAt(0)!;
  if (code < 0x100) return `\\x${code.toString(16).padStart(2, '0')}`;
  return code <= 0xffff ? `\\u${code.toString(16).padStart(4, '0')}` : `\\u{${code.toString(16)}}`;
}

/**
 * A value from a file as an error quotes it: printable (non-printable characters escaped, `\x00`, `\ufffd`) and
 * short (at most `max` characters, then "…"), whatever the file holds — a binary file given by mistake is not
 * echoed whole. A short printable value is returned as it is.
 */
export function excerpt(text: string, max = EXCERPT_LENGTH): string {
  let out = '';
  for (const ch of text) {
    const shown = NON_PRINTABLE.test(ch) ? escapeChar(ch) : ch;
    if (out.length + shown.length > max) return `${out}…`;
    out += shown;
  }
  return out;
}

/** A valibot issue's message with the string it quotes (`… but received "VALUE"`) cut to an excerpt. */
export function boundedIssueMessage(issue: { message: string; input?: unknown; received?: string }): string {
  const { message, input, received } = issue;
  if (typeof input !== 'string' || received !== `"${input}"` || !message.endsWith(received)) return message;
  return `${message.slice(0, message.length - received.length)}"${excerpt(input)}"`;
}

/**
 * A YAML parse error's message. The yaml package quotes the lines around the error (up to 80 characters each); when
 * they are not text (a binary file), they are said as one excerpt of the line in error instead.
 */
export function yamlErrorMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const text = message.replace(/\r\n/g, '\n').replace(/[\n\t]/g, ' ');
  if (!NON_PRINTABLE.test(text)) return message;
  const lines = message.split('\n');
  const caret = lines.findLastIndex((l) => /^\s*\^+\s*$/.test(l));
  const at = caret > 0 ? lines[caret - 1]! : (lines[2] ?? '');
  const head = excerpt(lines[0]!.replace(/:$/, ''), 200);
  return `${head}, near "${excerpt(at)}"`;
}

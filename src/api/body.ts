/**
 * Read a request body as JSON, once, strictly: valid UTF-8, a JSON object,
 * no key twice in one object, no number too large to be finite, nesting at
 * most MAX_DEPTH deep. What JSON.parse accepts but a model server might read
 * differently (a duplicated `model` or `max_tokens`, `1e400` → Infinity) or
 * the gateway cannot re-serialise (5 000 levels deep) is a 400 naming the
 * field. The text is kept, with where its top-level `model` value is, so the
 * model can be rewritten by editing the original text, not re-serialising it.
 */
import { badRequest } from './errors.ts';

/** Objects and arrays nested deeper than this are refused (OpenAI bodies, tool schemas included, stay far below). */
export const MAX_DEPTH = 128;

export interface JsonBody {
  value: Record<string, unknown>;
  /** The body as decoded. */
  text: string;
  /** Where the top-level `model` value is in `text` (start, end), or null when there is none. */
  modelSpan: readonly [number, number] | null;
}

const decoder = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

export function parseJsonBody(bytes: Uint8Array): JsonBody {
  if (bytes.byteLength === 0) throw badRequest('The request body is empty; send a JSON object.', 'invalid_json');
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw badRequest(`The request body is not valid UTF-8 (first bad byte at offset ${firstInvalidUtf8(bytes)}). Send the JSON encoded as UTF-8.`, 'invalid_encoding');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw badRequest(`The request body is not valid JSON (${(err as Error).message}). Send a JSON object with content-type application/json.`, 'invalid_json');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw badRequest('The request body must be a JSON object.', 'invalid_json');
  }
  return { value: value as Record<string, unknown>, text, modelSpan: scan(text) };
}

/** The body's bytes with its top-level `model` set to `model`, everything else as the client sent it. */
export function withModel(body: JsonBody, model: string): Uint8Array {
  const value = JSON.stringify(model);
  const t = body.text;
  if (body.modelSpan) return encoder.encode(t.slice(0, body.modelSpan[0]) + value + t.slice(body.modelSpan[1]));
  const open = t.indexOf('{');
  const empty = /^\s*\}/.test(t.slice(open + 1));
  return encoder.encode(`${t.slice(0, open + 1)}"model":${value}${empty ? '' : ','}${t.slice(open + 1)}`);
}

/** Byte offset of the first byte that does not start or continue a valid UTF-8 sequence. */
function firstInvalidUtf8(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    const n = b < 0x80 ? 0 : b >= 0xc2 && b < 0xe0 ? 1 : b >= 0xe0 && b < 0xf0 ? 2 : b >= 0xf0 && b < 0xf5 ? 3 : -1;
    if (n < 0) return i;
    for (let k = 1; k <= n; k++) if (((bytes[i + k] ?? 0) & 0xc0) !== 0x80) return i;
    i += n;
  }
  return bytes.length;
}

const QUOTE = 34, BACKSLASH = 92, OPEN_OBJ = 123, CLOSE_OBJ = 125, OPEN_ARR = 91, CLOSE_ARR = 93, COLON = 58, COMMA = 44;

interface Level {
  object: boolean;
  /** Keys seen in this object (created at its second key). */
  keys: Set<string> | null;
  first: string | null;
  /** The current key (objects) or index (arrays), for error paths. */
  at: string | number;
}

/**
 * Walk text JSON.parse accepted: check depth, duplicate keys and number
 * ranges, and find the top-level `model` value. Strings are skipped with
 * indexOf, so a long prompt costs little.
 */
function scan(text: string): readonly [number, number] | null {
  const stack: Level[] = [];
  let expectKey = false;
  let modelSpan: [number, number] | null = null;
  let modelNext = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = stringEnd(text, i);
      const top = stack[stack.length - 1];
      if (expectKey && top) {
        const raw = text.slice(i + 1, end);
        const key = raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw;
        if (top.first === null) top.first = key;
        else {
          if (top.keys === null) top.keys = new Set([top.first]);
          if (top.keys.has(key)) {
            const where = pathOf(stack, stack.length - 1);
            throw badRequest(`The key "${key}" appears twice in ${where ? `"${where}"` : 'the request body'}; send each key once.`, 'duplicate_key', where ? `${where}.${key}` : key);
          }
          top.keys.add(key);
        }
        top.at = key;
        modelNext = stack.length === 1 && key === 'model';
      } else if (modelNext) {
        modelSpan = [i, end + 1];
        modelNext = false;
      }
      i = end;
    } else if (c === OPEN_OBJ || c === OPEN_ARR) {
      if (modelNext) modelNext = false;
      if (stack.length >= MAX_DEPTH) throw badRequest(`The request body nests objects and arrays deeper than ${MAX_DEPTH} levels (at "${pathOf(stack)}"); flatten it.`, 'too_deep', pathOf(stack));
      stack.push({ object: c === OPEN_OBJ, keys: null, first: null, at: c === OPEN_OBJ ? '' : 0 });
      expectKey = c === OPEN_OBJ;
    } else if (c === CLOSE_OBJ || c === CLOSE_ARR) {
      stack.pop();
      expectKey = false;
    } else if (c === COLON) {
      expectKey = false;
    } else if (c === COMMA) {
      const top = stack[stack.length - 1]!;
      if (top.object) expectKey = true;
      else top.at = (top.at as number) + 1;
    } else if (c === 45 || (c >= 48 && c <= 57)) {
      let end = i + 1;
      while (end < text.length && isNumberChar(text.charCodeAt(end))) end++;
      const literal = text.slice(i, end);
      if (!Number.isFinite(Number(literal))) {
        const where = pathOf(stack);
        throw badRequest(`Invalid field "${where}": the number ${literal.length > 40 ? `${literal.slice(0, 40)}…` : literal} is too large (numbers must be finite).`, 'invalid_value', where);
      }
      modelNext = false;
      i = end - 1;
    } else if (modelNext && (c === 116 || c === 102 || c === 110)) {
      // true, false, null as the model: not a string; checkBody names it.
      modelNext = false;
    }
  }
  return modelSpan;
}

/** The path to the value at the current position (or, with `levels`, to the container that many levels down). */
function pathOf(stack: readonly Level[], levels = stack.length): string {
  return stack.slice(0, levels).map((l, i) => (typeof l.at === 'number' ? `[${l.at}]` : `${i > 0 ? '.' : ''}${l.at}`)).join('');
}

/** Index of the quote closing the string that opens at `start`. */
function stringEnd(text: string, start: number): number {
  let q = text.indexOf('"', start + 1);
  for (;;) {
    let backslashes = 0;
    for (let k = q - 1; text.charCodeAt(k) === BACKSLASH; k--) backslashes++;
    if (backslashes % 2 === 0) return q;
    q = text.indexOf('"', q + 1);
  }
}

function isNumberChar(c: number): boolean {
  return (c >= 48 && c <= 57) || c === 46 || c === 101 || c === 69 || c === 43 || c === 45;
}

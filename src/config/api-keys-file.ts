/** The API keys file (`--api-keys FILE`), validated whole: see src/api/api-keys.ts for its shape. */
import * as v from 'valibot';
import { parse as parseYaml } from 'yaml';
import { ApiKeys } from '../api/api-keys.ts';
import { issueMessage, issuePath, yamlErrorMessage, type Problem } from '../routing/problems.ts';

const Hex = v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/i, "must be the key's SHA-256 as 64 hex digits"), v.toLowerCase());
const Name = v.pipe(v.string(), v.minLength(1, 'must not be empty'), v.maxLength(253), v.regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces'));

export const ApiKeysFile = v.strictObject({
  keys: v.array(v.strictObject({ name: Name, tenant: Name, sha256: Hex })),
});

/** Parse an API keys file (YAML or JSON): every problem named by field path, or the keys. */
export function parseApiKeys(text: string, source: string): { ok: true; keys: ApiKeys } | { ok: false; problems: Problem[] } {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    return { ok: false, problems: [{ object: source, path: '', message: `not valid YAML: ${yamlErrorMessage(err)}` }] };
  }
  const parsed = v.safeParse(ApiKeysFile, doc ?? {});
  if (!parsed.success) return { ok: false, problems: parsed.issues.map((i) => ({ object: source, path: issuePath(i), message: issueMessage(i) })) };
  const seen = new Map<string, number>();
  const problems: Problem[] = [];
  parsed.output.keys.forEach((k, i) => {
    const first = seen.get(k.sha256);
    if (first !== undefined) problems.push({ object: source, path: `keys[${i}].sha256`, message: `the same key as keys[${first}] (${parsed.output.keys[first]!.name})` });
    seen.set(k.sha256, i);
  });
  return problems.length ? { ok: false, problems } : { ok: true, keys: new ApiKeys(parsed.output.keys) };
}

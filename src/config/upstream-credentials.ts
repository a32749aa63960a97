/**
 * `--upstream-credentials FILE`: what each pool's model servers receive in
 * Authorization (src/proxy/upstream-auth.ts), validated whole:
 *
 * ```yaml
 * default: strip                # pass | strip (default: strip with --api-keys, else pass)
 * pools:
 *   gemma3: { authorization: replace, apiKey: sk-pods-... }
 *   deepseek-r1: { authorization: pass }
 * ```
 */
import * as v from 'valibot';
import { parse as parseYaml } from 'yaml';
import { UpstreamAuth, type PoolCredentials } from '../proxy/upstream-auth.ts';
import { issueMessage, issuePath, yamlErrorMessage, type Problem } from '../routing/problems.ts';

const Mode = v.picklist(['pass', 'strip', 'replace'], 'must be pass, strip or replace');
const Credentials = v.pipe(
  v.strictObject({ authorization: Mode, apiKey: v.optional(v.pipe(v.string(), v.regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces'))) }),
  v.check((c) => (c.authorization === 'replace') === (c.apiKey !== undefined), 'apiKey is needed with authorization: replace, and only then'),
);
const File = v.strictObject({
  default: v.optional(v.picklist(['pass', 'strip'], 'must be pass or strip')),
  pools: v.optional(v.record(v.string(), Credentials), {}),
});

/** What pods get when no file says otherwise. */
export function defaultUpstreamAuth(clientKeysChecked: boolean): UpstreamAuth {
  return new UpstreamAuth({ authorization: clientKeysChecked ? 'strip' : 'pass' });
}

export function parseUpstreamCredentials(text: string, source: string, clientKeysChecked: boolean): { ok: true; auth: UpstreamAuth } | { ok: false; problems: Problem[] } {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    return { ok: false, problems: [{ object: source, path: '', message: `not valid YAML: ${yamlErrorMessage(err)}` }] };
  }
  const parsed = v.safeParse(File, doc ?? {});
  if (!parsed.success) return { ok: false, problems: parsed.issues.map((i) => ({ object: source, path: issuePath(i), message: issueMessage(i) })) };
  const fallback: PoolCredentials = { authorization: parsed.output.default ?? (clientKeysChecked ? 'strip' : 'pass') };
  return { ok: true, auth: new UpstreamAuth(fallback, new Map(Object.entries(parsed.output.pools))) };
}

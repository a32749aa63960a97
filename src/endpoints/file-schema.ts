/**
 * The endpoints file: where the model-server pods are and what labels they
 * carry (pools select them by label). YAML or JSON:
 *
 * ```yaml
 * endpoints:
 *   - address: 10.0.0.7
 *     port: 8000          # optional: else one endpoint per pool target port
 *     labels: { pool: gemma3 }
 *     engine: vllm        # vllm (default) | sglang | trtllm | triton-trtllm
 * ```
 *
 * Kubernetes discovery hands the agent entries of the same shape, each with
 * the pod's `namespace` and one of its pools' ports.
 */
import { poolNamespace, type PoolSelector } from './types.ts';
import * as v from 'valibot';
import { parse as parseYaml } from 'yaml';
import { boundedIssueMessage, issuePath, yamlErrorMessage, type Problem } from '../routing/problems.ts';

export const Engine = v.picklist(['vllm', 'sglang', 'trtllm', 'triton-trtllm'], 'must be vllm, sglang, trtllm or triton-trtllm');

export const EndpointEntry = v.object({
  address: v.pipe(v.string('must be a string'), v.minLength(1, 'must not be empty')),
  port: v.optional(v.pipe(v.number('must be a number'), v.integer('must be an integer'), v.minValue(1, 'must be 1-65535'), v.maxValue(65535, 'must be 1-65535'))),
  labels: v.optional(v.record(v.string(), v.string('must be a string')), {}),
  engine: v.optional(Engine, 'vllm'),
  /** The pod's namespace (set by Kubernetes discovery): the entry then belongs only to pools of that namespace, on their own ports. */
  namespace: v.optional(v.string()),
  /** Where the pod publishes KV events (vLLM's --kv-events-config endpoint); default: the agent's port convention. */
  kvEventsEndpoint: v.optional(v.pipe(v.string(), v.regex(/^tcp:\/\/\S+:\d+$/, 'must be tcp://host:port'))),
  /** The pod's replay socket (vLLM's replay_endpoint), if it has one. */
  kvEventsReplayEndpoint: v.optional(v.pipe(v.string(), v.regex(/^tcp:\/\/\S+:\d+$/, 'must be tcp://host:port'))),
});
export type EndpointEntry = v.InferOutput<typeof EndpointEntry>;

export const EndpointsFile = v.object({ endpoints: v.array(EndpointEntry, 'must be a list') });
export type EndpointsFile = v.InferOutput<typeof EndpointsFile>;

export type EndpointsFileResult = { ok: true; endpoints: EndpointEntry[] } | { ok: false; problems: Problem[] };

export function parseEndpointsFile(text: string, source = 'endpoints file'): EndpointsFileResult {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    return { ok: false, problems: [{ object: source, path: '', message: `not valid YAML/JSON: ${yamlErrorMessage(err)}` }] };
  }
  if (Array.isArray(doc)) doc = { endpoints: doc };
  const result = v.safeParse(EndpointsFile, doc ?? { endpoints: [] });
  if (!result.success) {
    return { ok: false, problems: result.issues.map((i) => ({ object: source, path: issuePath(i), message: boundedIssueMessage(i) })) };
  }
  return { ok: true, endpoints: result.output.endpoints };
}

/**
 * The endpoints a pool selects: every label of the selector matches; no port → one per target port.
 * An entry with a namespace is a pod as Kubernetes discovery found it: as an InferencePool selects
 * pods of its own namespace on its own target ports, it belongs to a pool only in its namespace and
 * on one of the pool's ports (another pool's port may speak another protocol). An entry without one
 * (the endpoints file) matches by labels alone and keeps its port, as it always has.
 */
export function selectEndpoints(entries: readonly EndpointEntry[], pool: PoolSelector): { address: string; port: number; labels: Record<string, string>; engine: string }[] {
  const out = [];
  const { selector, targetPorts } = pool;
  const keys = Object.keys(selector);
  const namespace = poolNamespace(pool);
  for (const e of entries) {
    if (!keys.every((k) => e.labels[k] === selector[k])) continue;
    if (e.namespace !== undefined) {
      if (namespace !== undefined && e.namespace !== namespace) continue;
      if (e.port !== undefined && !targetPorts.includes(e.port)) continue;
    }
    const ports = e.port !== undefined ? [e.port] : targetPorts;
    for (const port of ports) out.push({ address: e.address, port, labels: e.labels, engine: e.engine });
  }
  return out;
}

/**
 * What a model server says it serves: the OpenAI list at `/v1/models`, where
 * vLLM (and the simulator) name the base model and every LoRA adapter loaded,
 * an adapter with its base model in `parent`. SGLang and TensorRT-LLM list
 * their model the same way. A page that is not such a list (an echo server, a
 * proxy's error page) means "unknown", never "serves nothing".
 */
import * as v from 'valibot';
import type { ServedModel } from '../endpoints/types.ts';

const ModelList = v.looseObject({
  data: v.array(v.looseObject({ id: v.pipe(v.string(), v.minLength(1)), parent: v.optional(v.nullable(v.string())) })),
});

/** The models of a `/v1/models` page, or undefined when the page is not an OpenAI model list. */
export function readServedModels(text: string): ServedModel[] | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined; // not JSON: this server does not list its models
  }
  const parsed = v.safeParse(ModelList, doc);
  if (!parsed.success) return undefined;
  return parsed.output.data.map((m) => (m.parent ? { id: m.id, parent: m.parent } : { id: m.id }));
}

export function sameModels(a: readonly ServedModel[] | undefined, b: readonly ServedModel[] | undefined): boolean {
  if (a === b) return true;
  if (!a || !b || a.length !== b.length) return false;
  return a.every((m, i) => m.id === b[i]!.id && m.parent === b[i]!.parent);
}

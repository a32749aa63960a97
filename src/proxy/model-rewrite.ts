/**
 * Restore the client's model name in responses after the request's `model`
 * was rewritten to a target (a LoRA adapter, a canary): in the JSON body, and
 * in every SSE event, as the bytes stream — never holding back more than a
 * partial line.
 */

// The first `"model": "…"` key of a JSON object. A key cannot be confused with
// text inside a string value: quotes there are escaped.
const MODEL_KEY = /"model"\s*:\s*"((?:[^"\\]|\\.)*)"/;

export function restoreModelInJson(text: string, target: string, requested: string): string {
  const match = MODEL_KEY.exec(text);
  if (!match || decodeJsonString(match[1]!) !== target) return text;
  return text.slice(0, match.index) + `"model":${JSON.stringify(requested)}` + text.slice(match.index + match[0].length);
}

function decodeJsonString(raw: string): string {
  return raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw;
}

/**
 * The name restored in one whole SSE event, in its first `data:` line whatever lines come before it (vLLM's
 * Responses stream opens each event with `event: …`).
 */
export function restoreModelInEvent(event: string, target: string, requested: string): string {
  if (event.startsWith('data:')) return restoreModelInJson(event, target, requested);
  const at = event.indexOf('\ndata:') + 1;
  if (at === 0) return event;
  const data = event.slice(at);
  const restored = restoreModelInJson(data, target, requested);
  return restored === data ? event : event.slice(0, at) + restored;
}

/** A byte-stream transform restoring the model name in each `data:` line of an SSE stream. */
export function restoreModelInSse(target: string, requested: string): TransformStream<Uint8Array, Uint8Array> {
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let pending = '';
  const rewriteLines = (text: string): string => {
    let out = '';
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      const line = text.slice(start, nl + 1);
      out += line.startsWith('data:') ? restoreModelInJson(line, target, requested) : line;
      start = nl + 1;
    }
    pending = text.slice(start);
    return out;
  };
  return new TransformStream({
    transform(chunk, controller) {
      const out = rewriteLines(pending + decoder.decode(chunk, { stream: true }));
      if (out) controller.enqueue(encoder.encode(out));
    },
    flush(controller) {
      const rest = pending + decoder.decode();
      if (rest) controller.enqueue(encoder.encode(rest.startsWith('data:') ? restoreModelInJson(rest, target, requested) : rest));
    },
  });
}

/**
 * Read a request body once, with a size limit, and parse it as JSON once.
 */
import { GatewayError, badRequest, payloadTooLarge } from './errors.ts';

export async function readBody(request: Request, limit: number): Promise<Uint8Array> {
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > limit) throw payloadTooLarge(limit);
  if (!request.body) return new Uint8Array(0);
  if (declared !== null) {
    // Known length within the limit: one read of the whole body is the fastest path.
    return new Uint8Array(await request.arrayBuffer());
  }
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw payloadTooLarge(limit);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

const decoder = new TextDecoder();

export function parseJsonObject(bytes: Uint8Array): Record<string, unknown> {
  if (bytes.byteLength === 0) throw badRequest('The request body is empty; send a JSON object.', 'invalid_json');
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch (err) {
    throw badRequest(`The request body is not valid JSON (${(err as Error).message}). Send a JSON object with content-type application/json.`, 'invalid_json');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw badRequest('The request body must be a JSON object.', 'invalid_json');
  }
  return value as Record<string, unknown>;
}

export { GatewayError };

/**
 * A request to a path outside the OpenAI API that an HTTPRoute names (the
 * Inference Extension's conformance suite sends `GET /test-primary-gateway`
 * and `POST` bodies of its own): any method, any body. When the body is a
 * JSON object its `model` and `prompt` are read; otherwise the body is passed
 * on untouched and the request has no model.
 */
import type { ApiKind, ParsedRequest } from './openai.ts';

/** A kind of request the director serves: one of the OpenAI routes, or `other` (a path an HTTPRoute names). */
export type RouteKind = ApiKind | 'other';

export interface AnyBody extends Omit<ParsedRequest, 'kind'> {
  kind: 'other';
  /** The body is not a JSON object: forward the bytes as they came. */
  raw: boolean;
  prompt: string;
}

const decoder = new TextDecoder();

export function readAnyBody(bytes: Uint8Array): AnyBody {
  let value: unknown;
  if (bytes.byteLength > 0) {
    try {
      value = JSON.parse(decoder.decode(bytes));
    } catch {
      value = undefined; // not JSON: passed through as bytes
    }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { kind: 'other', body: {}, model: undefined, stream: false, raw: true, prompt: '' };
  const body = value as Record<string, unknown>;
  return {
    kind: 'other',
    body,
    model: typeof body.model === 'string' ? body.model : undefined,
    stream: body.stream === true,
    raw: false,
    prompt: typeof body.prompt === 'string' ? body.prompt : '',
  };
}

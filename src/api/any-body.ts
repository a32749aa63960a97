/**
 * A request to a path outside the OpenAI API that an HTTPRoute names (the
 * Inference Extension's conformance suite sends `GET /test-primary-gateway`
 * and `POST` bodies of its own): any method, any body. When the body is a
 * JSON object the gateway would read as the API's (parseJsonBody's strict
 * rules) its `model` and `prompt` are read; otherwise the body is passed on
 * untouched and the request has no model.
 */
import { parseJsonBody, type JsonBody } from './body.ts';
import { GatewayError } from './errors.ts';
import type { ApiKind, ParsedRequest } from './openai.ts';

/** A kind of request the director serves: one of the OpenAI routes, or `other` (a path an HTTPRoute names). */
export type RouteKind = ApiKind | 'other';

export interface AnyBody extends Omit<ParsedRequest, 'kind'> {
  kind: 'other';
  /** The body as JSON, when it is a JSON object; undefined: forward the bytes as they came. */
  json: JsonBody | undefined;
  prompt: string;
}

export function readAnyBody(bytes: Uint8Array): AnyBody {
  let json: JsonBody | undefined;
  if (bytes.byteLength > 0) {
    try {
      json = parseJsonBody(bytes);
    } catch (err) {
      if (!(err instanceof GatewayError)) throw err;
      json = undefined; // not a JSON object the gateway reads: passed on as bytes, with no model
    }
  }
  if (!json) return { kind: 'other', body: {}, model: undefined, stream: false, json: undefined, prompt: '' };
  const body = json.value;
  return {
    kind: 'other',
    body,
    model: typeof body.model === 'string' ? body.model : undefined,
    stream: body.stream === true,
    json,
    prompt: typeof body.prompt === 'string' ? body.prompt : '',
  };
}

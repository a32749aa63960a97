/**
 * Parse a request body as JSON, once.
 */
import { badRequest } from './errors.ts';

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

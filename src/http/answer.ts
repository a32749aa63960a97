/**
 * What the gateway answers, before it becomes a runtime's response: web
 * runtimes wrap it in a `Response`; Node writes it straight to the socket.
 */
import { GatewayError } from '../api/errors.ts';

export interface Answer {
  status: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  body: Uint8Array | string | ReadableStream<Uint8Array> | null;
}

export function toResponse(answer: Answer): Response {
  return new Response(answer.body as BodyInit | null, { status: answer.status, headers: answer.headers });
}

export function errorAnswer(err: GatewayError, extraHeaders?: Record<string, string>): Answer {
  return {
    status: err.status,
    headers: { 'content-type': 'application/json', ...err.headers, ...extraHeaders },
    body: JSON.stringify(err.toJSON()),
  };
}

/**
 * What the gateway answers, before it becomes a runtime's response: web
 * runtimes wrap it in a `Response`; Node writes it straight to the socket.
 * Status 499 (nginx's "client closed request") means the client went away:
 * the connection is closed without an answer.
 */

export interface Answer {
  status: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  body: Uint8Array | string | ReadableStream<Uint8Array> | null;
}

export function toResponse(answer: Answer): Response {
  return new Response(answer.body as BodyInit | null, { status: answer.status, headers: answer.headers });
}

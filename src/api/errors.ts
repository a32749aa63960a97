/**
 * Errors the gateway itself makes, in OpenAI's shape
 * (`{"error":{"message","type","param","code"}}`), each saying what to do.
 */
import type { Answer } from '../http/answer.ts';

export type ErrorType =
  | 'invalid_request_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'service_unavailable_error'
  | 'upstream_error'
  | 'timeout_error'
  | 'server_error';

export interface GatewayErrorInit {
  status: number;
  message: string;
  type: ErrorType;
  code: string;
  param?: string | null;
  headers?: Record<string, string>;
}

/**
 * On every error the gateway makes itself: a client tells it from a model
 * server's own error (which passes through, with x-gateway-destination-endpoint
 * naming the pod).
 */
export const ERROR_ORIGIN_HEADER = 'x-infergate-error-origin';

export class GatewayError extends Error {
  readonly status: number;
  readonly type: ErrorType;
  readonly code: string;
  readonly param: string | null;
  readonly headers: Record<string, string>;

  constructor(init: GatewayErrorInit) {
    super(init.message);
    this.status = init.status;
    this.type = init.type;
    this.code = init.code;
    this.param = init.param ?? null;
    this.headers = init.headers ?? {};
  }

  toResponse(extraHeaders?: Record<string, string>): Response {
    return errorResponse(this, extraHeaders);
  }

  toJSON(): { error: { message: string; type: ErrorType; param: string | null; code: string } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export function errorResponse(err: GatewayError, extraHeaders?: Record<string, string>): Response {
  const body = JSON.stringify(err.toJSON());
  return new Response(body, {
    status: err.status,
    headers: { 'content-type': 'application/json', [ERROR_ORIGIN_HEADER]: 'gateway', ...err.headers, ...extraHeaders },
  });
}

/** The error as the gateway's answer (JSON), with any headers it carries (Retry-After). */
export function errorAnswer(err: GatewayError, extraHeaders?: Record<string, string>): Answer {
  return {
    status: err.status,
    headers: { 'content-type': 'application/json', [ERROR_ORIGIN_HEADER]: 'gateway', ...err.headers, ...extraHeaders },
    body: JSON.stringify(err.toJSON()),
  };
}

/** A failure of the gateway itself (a bug); `detail` names the request when there is an id to give. */
export const internalError = (detail = '') =>
  new GatewayError({ status: 500, type: 'server_error', code: 'internal_error', message: `The gateway failed on this request${detail}; it was logged. Retry, and report it if it persists.` });

export const badRequest = (message: string, code: string, param: string | null = null) =>
  new GatewayError({ status: 400, type: 'invalid_request_error', message, code, param });

export const modelNotFound = (model: string, served: string[]) =>
  new GatewayError({
    status: 404,
    type: 'not_found_error',
    code: 'model_not_found',
    param: 'model',
    message: served.length
      ? `The model "${model}" is not served by this gateway. Served models: ${served.slice(0, 20).join(', ')}${served.length > 20 ? ', …' : ''} (GET /v1/models lists them).`
      : `The model "${model}" is not served by this gateway: no routing table is configured. Apply one with "infergate apply -f manifests.yaml".`,
  });

export const payloadTooLarge = (limit: number) =>
  new GatewayError({
    status: 413,
    type: 'invalid_request_error',
    code: 'request_too_large',
    message: `The request body is larger than this gateway's limit of ${limit} bytes. Send a smaller prompt, or raise --body-limit.`,
  });

export const serviceUnavailable = (message: string, code = 'no_ready_endpoint', retryAfterSeconds?: number) =>
  new GatewayError({
    status: 503,
    type: 'service_unavailable_error',
    code,
    message,
    headers: retryAfterSeconds ? { 'retry-after': String(retryAfterSeconds) } : undefined,
  });

export const shed = (message: string, retryAfterSeconds: number) =>
  new GatewayError({
    status: 429,
    type: 'rate_limit_error',
    code: 'pool_saturated',
    message,
    headers: { 'retry-after': String(retryAfterSeconds) },
  });

export const badGateway = (message: string) =>
  new GatewayError({ status: 502, type: 'upstream_error', code: 'upstream_unavailable', message });

export const gatewayTimeout = (message: string) =>
  new GatewayError({ status: 504, type: 'timeout_error', code: 'upstream_timeout', message });

/**
 * Tracing and the access log on Deno. Traces use Deno's own OpenTelemetry
 * (on with OTEL_DENO=true; Deno reads the standard OTEL_EXPORTER_OTLP_*
 * variables and exports over OTLP/HTTP): `@opentelemetry/api` reaches it, so
 * the core's tracing observer runs unchanged, with the W3C propagator for
 * traceparent/tracestate. Deno also traces Deno.serve on its own: the
 * gateway's spans continue the client's trace beside Deno's. The pods are
 * reached with the HTTP/1.1 client of packages/http1 (not Deno's fetch), so
 * the gateway writes the traceparent of its upstream span itself. The access
 * log goes to stdout or a file, gathered per turn of the event loop.
 */
import { trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { accessLog } from '../../observability/access-log.ts';
import { tracingObserver } from '../../observability/tracing.ts';
import { accessLogUnopenable, checkAccessLogSample } from '../../gateway/assemble.ts';
import type { RequestObserver } from '../../proxy/observer.ts';
import { deno, type DenoFile } from './api.ts';

export interface DenoObserverOptions {
  accessLog?: string;
  accessLogSample?: number;
  accessLogMaxRate?: number;
}

const encoder = new TextEncoder();

/** A startup refusal (one line, exit 1) rather than an uncaught NotFound/NotCapable with a stack, as on Node. */
async function openForAppending(path: string): Promise<DenoFile> {
  try {
    return await deno().open(path, { write: true, create: true, append: true });
  } catch (err) {
    throw accessLogUnopenable(path, err);
  }
}

export async function denoObservers(options: DenoObserverOptions, env: Record<string, string | undefined>): Promise<{ observers: RequestObserver[]; tracing: boolean; close(): Promise<void> }> {
  const observers: RequestObserver[] = [];
  const tracing = env.OTEL_DENO === 'true';
  if (tracing) observers.push(tracingObserver({ tracer: trace.getTracer('infergate'), propagator: new W3CTraceContextPropagator(), upstreamClient: 'http1' }));
  const target = options.accessLog ?? 'off';
  let file: DenoFile | undefined;
  let pending = '';
  let writing = Promise.resolve();
  if (target !== 'off') {
    checkAccessLogSample(options.accessLogSample);
    if (target !== 'stdout') file = await openForAppending(target);
    const out = file ?? deno().stdout;
    const flush = () => {
      const chunk = encoder.encode(pending);
      pending = '';
      writing = writing.then(async () => void (await out.write(chunk)));
    };
    observers.push(
      accessLog({
        write(line) {
          if (pending === '') setTimeout(flush, 0);
          pending += `${line}\n`;
        },
        sample: options.accessLogSample,
        maxPerSecond: options.accessLogMaxRate || undefined,
      }),
    );
  }
  return {
    observers,
    tracing,
    async close() {
      await writing;
      file?.close();
    },
  };
}

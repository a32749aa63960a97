/**
 * The OpenTelemetry SDK on Node, configured by the standard OTEL_* variables
 * and off when they do not ask for traces: on when
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT is set
 * (or OTEL_TRACES_EXPORTER=otlp|console), off with OTEL_SDK_DISABLED=true or
 * OTEL_TRACES_EXPORTER=none. Protocol (OTEL_EXPORTER_OTLP[_TRACES]_PROTOCOL):
 * http/protobuf (the default) or http/json; grpc is refused with a message.
 * Sampler: OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (default
 * parentbased_always_on). Service name and resource: OTEL_SERVICE_NAME,
 * OTEL_RESOURCE_ATTRIBUTES (read from the given environment, so a test or an
 * embedder can pass its own). Headers: OTEL_EXPORTER_OTLP[_TRACES]_HEADERS.
 * Spans go out in batches (BatchSpanProcessor, OTEL_BSP_*), off the request path.
 */
import type { TextMapPropagator, Tracer } from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOffSampler, AlwaysOnSampler, BatchSpanProcessor, ConsoleSpanExporter, ParentBasedSampler, TraceIdRatioBasedSampler, TracerProvider, type Sampler, type SpanExporter } from '@opentelemetry/sdk-trace';

export interface NodeTracing {
  tracer: Tracer;
  propagator: TextMapPropagator;
  /** Where spans go, for the startup log line. */
  endpoint: string;
  /** Send what is buffered and stop. */
  shutdown(): Promise<void>;
}

/** The OTEL_* settings were asked for but cannot be honoured; the message says what to change. */
export class TracingConfigError extends Error {}

type Env = Record<string, string | undefined>;

export function tracingWanted(env: Env): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return false;
  const exporter = (env.OTEL_TRACES_EXPORTER ?? '').trim().toLowerCase();
  if (exporter === 'none') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT || exporter === 'otlp' || exporter === 'console');
}

/** The SDK per the environment, or undefined when tracing is off. */
export function startNodeTracing(env: Env, version: string): NodeTracing | undefined {
  if (!tracingWanted(env)) return undefined;
  const { exporter, endpoint } = spanExporter(env);
  const resource = defaultResource().merge(resourceFromAttributes({ 'service.name': 'infergate', 'service.version': version, ...resourceAttributes(env) }));
  const provider = new TracerProvider({ resource, sampler: sampler(env), spanProcessors: [new BatchSpanProcessor({ exporter, ...batchOptions(env) })] });
  return {
    tracer: provider.getTracer('infergate', version),
    propagator: new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
    endpoint,
    shutdown: () => provider.shutdown(),
  };
}

function spanExporter(env: Env): { exporter: SpanExporter; endpoint: string } {
  if ((env.OTEL_TRACES_EXPORTER ?? '').trim().toLowerCase() === 'console') return { exporter: new ConsoleSpanExporter(), endpoint: 'console' };
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL || 'http/protobuf').trim();
  const url = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || `${(env.OTEL_EXPORTER_OTLP_ENDPOINT || 'http://localhost:4318').replace(/\/+$/, '')}/v1/traces`;
  const headers = parseHeaders(env.OTEL_EXPORTER_OTLP_TRACES_HEADERS ?? env.OTEL_EXPORTER_OTLP_HEADERS ?? '');
  const config = { url, headers };
  if (protocol === 'http/protobuf') return { exporter: new ProtoExporter(config), endpoint: url };
  if (protocol === 'http/json') return { exporter: new JsonExporter(config), endpoint: url };
  if (protocol === 'grpc') {
    throw new TracingConfigError(`OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported by infergate: set it to http/protobuf and point OTEL_EXPORTER_OTLP_ENDPOINT at the collector's OTLP/HTTP port (4318)`);
  }
  throw new TracingConfigError(`unknown OTLP protocol "${protocol}": use http/protobuf or http/json`);
}

/** OTEL_BSP_*: the batch span processor's delay, queue and batch sizes, export timeout. */
function batchOptions(env: Env): { scheduledDelayMillis?: number; maxQueueSize?: number; maxExportBatchSize?: number; exportTimeoutMillis?: number } {
  const read = (name: string): number | undefined => {
    const text = env[name];
    if (text === undefined || text.trim() === '') return undefined;
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0) throw new TracingConfigError(`${name} must be a whole number, got "${text}"`);
    return n;
  };
  const out = { scheduledDelayMillis: read('OTEL_BSP_SCHEDULE_DELAY'), maxQueueSize: read('OTEL_BSP_MAX_QUEUE_SIZE'), maxExportBatchSize: read('OTEL_BSP_MAX_EXPORT_BATCH_SIZE'), exportTimeoutMillis: read('OTEL_BSP_EXPORT_TIMEOUT') };
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined));
}

/** OTEL_RESOURCE_ATTRIBUTES (`key=value,…`, percent-encoded), then OTEL_SERVICE_NAME, which wins for service.name. */
function resourceAttributes(env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(parseHeaders(env.OTEL_RESOURCE_ATTRIBUTES ?? '', 'OTEL_RESOURCE_ATTRIBUTES'))) out[k] = v;
  if (env.OTEL_SERVICE_NAME?.trim()) out['service.name'] = env.OTEL_SERVICE_NAME.trim();
  return out;
}

/** OTEL_EXPORTER_OTLP_HEADERS: `key=value,key2=value2`, values percent-encoded (the W3C baggage format). */
export function parseHeaders(text: string, variable = 'OTEL_EXPORTER_OTLP_HEADERS'): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    try {
      headers[decodeURIComponent(part.slice(0, eq).trim())] = decodeURIComponent(part.slice(eq + 1).trim());
    } catch (err) {
      throw new TracingConfigError(`${variable}: "${part.trim()}" is not percent-encoded properly (${(err as Error).message})`);
    }
  }
  return headers;
}

/** OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG, as the specification names them. */
export function sampler(env: Env): Sampler {
  const name = (env.OTEL_TRACES_SAMPLER ?? 'parentbased_always_on').trim().toLowerCase();
  const arg = env.OTEL_TRACES_SAMPLER_ARG;
  const ratio = (): number => {
    if (arg === undefined || arg.trim() === '') return 1;
    const r = Number(arg);
    if (!Number.isFinite(r) || r < 0 || r > 1) throw new TracingConfigError(`OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1 for ${name}, got "${arg}"`);
    return r;
  };
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio());
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio()) });
    default:
      throw new TracingConfigError(`OTEL_TRACES_SAMPLER "${name}" is not one infergate knows: always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio`);
  }
}

import { describe, expect, it } from 'vitest';
import { parseHeaders, sampler, startNodeTracing, TracingConfigError, tracingWanted } from './tracing.ts';

describe('tracing by the OTEL_* variables', () => {
  it('is off unless an endpoint or exporter asks for it, and off when disabled', () => {
    expect(tracingWanted({})).toBe(false);
    expect(tracingWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })).toBe(true);
    expect(tracingWanted({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' })).toBe(true);
    expect(tracingWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' })).toBe(false);
    expect(tracingWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' })).toBe(false);
    expect(startNodeTracing({}, 'v0')).toBeUndefined();
  });

  it('reads the sampler the specification names, and refuses what it cannot honour with a message', () => {
    expect(sampler({}).toString()).toContain('ParentBased');
    expect(sampler({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' }).toString()).toContain('0.25');
    expect(() => sampler({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '2' })).toThrow(TracingConfigError);
    expect(() => sampler({ OTEL_TRACES_SAMPLER: 'jaeger_remote' })).toThrow(/not one infergate knows/);
    expect(() => startNodeTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, 'v0')).toThrow(/4318/);
  });

  it('parses OTLP headers, percent-encoded', () => {
    expect(parseHeaders('api-key=a%20b, x-tenant=t1')).toEqual({ 'api-key': 'a b', 'x-tenant': 't1' });
    expect(() => parseHeaders('k=%zz')).toThrow(TracingConfigError);
  });
});

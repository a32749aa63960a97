/**
 * The `plugins` of an EndpointPickerConfig, each classified by its type:
 * a plugin a profile runs (plugins/registry.ts), one that acts outside the
 * profiles (profile handler, served-endpoint verifier, the data layer the
 * agent stands for, the OpenAI parser), llm-d's `utilization-detector`
 * (infergate's saturation settings), a flow-control policy the flow-control
 * layer implements — or refused: an llm-d type infergate does not have is
 * named with what it does and the nearest infergate plugin
 * (llmd-plugins.ts), never a generic "unknown type".
 */
import * as v from 'valibot';
import { boundedIssueMessage, excerpt, issuePath } from '../routing/problems.ts';
import { flowControlPluginType } from './flow-control-config.ts';
import { describeUnsupportedLlmdPlugin, llmdPlugin } from './llmd-plugins.ts';
import { Duration, outsideType, pluginType, pluginTypeNames, type OutsideKind } from './plugins/registry.ts';
import type { Plugin } from './plugins/types.ts';

export type DeclaredKind = Plugin['kind'] | OutsideKind | 'saturation-detector' | 'flow-control';

export interface DeclaredPlugin {
  name: string;
  /** Canonical type. */
  type: string;
  kind: DeclaredKind;
  parameters: Record<string, unknown>;
  /** For a `response-header` plugin: the header. */
  header?: string;
}

export interface PluginProblem {
  path: string;
  message: string;
}

/**
 * llm-d's default saturation detector, read as infergate's saturation
 * settings (the same parameter names; `headroom` only 0, infergate has none).
 */
/** A count of prompt tokens (0: off). */
export const PrefillTokens = v.pipe(v.number('must be a number of tokens'), v.integer('must be an integer'), v.minValue(0, 'must not be negative'));

export const UtilizationDetectorParameters = v.strictObject({
  queueDepthThreshold: v.optional(v.pipe(v.number('must be a number'), v.minValue(0, 'must not be negative'))),
  kvCacheUtilThreshold: v.optional(v.pipe(v.number('must be a number'), v.minValue(0, 'must be in (0, 1]'), v.maxValue(1, 'must be in (0, 1]'))),
  metricsStalenessThreshold: v.optional(Duration),
  headroom: v.optional(v.literal(0, 'must be 0: infergate has no saturation headroom')),
  /** infergate's: prompt tokens sent to an endpoint and not yet prefilled at which flow control sees no room on it. */
  pendingPrefillTokensThreshold: v.optional(PrefillTokens),
});

/** llm-d's concurrency-detector: requests in flight per endpoint (its token modes are not implemented). */
export const ConcurrencyDetectorParameters = v.strictObject({
  concurrencyMode: v.optional(v.picklist(['requests'], 'must be requests: infergate counts requests in flight; token concurrency (tokens, hybrid) is not implemented — the nearest is the utilization thresholds with the prefill-work scorer')),
  maxConcurrency: v.optional(v.pipe(v.number('must be a number'), v.integer('must be an integer'), v.minValue(1, 'must be at least 1'))),
  maxTokenConcurrency: v.optional(v.pipe(v.number('must be a number'), v.minValue(0, 'must not be negative'))),
  headroom: v.optional(v.pipe(v.number('must be a number'), v.minValue(0, 'must not be negative'))),
});

/** Classify and check one `plugins[i]` entry; problems name `plugins[i]…`. */
export function declarePlugin(p: { type: string; name?: string; parameters?: Record<string, unknown> | null }, i: number, problems: PluginProblem[]): DeclaredPlugin | undefined {
  const at = `plugins[${i}]`;
  const given = p.parameters ?? {};
  const check = (schema: v.GenericSchema<unknown, Record<string, unknown>>): Record<string, unknown> | undefined => {
    const parsed = v.safeParse(schema, given);
    if (parsed.success) return parsed.output;
    for (const issue of parsed.issues) {
      const sub = issuePath(issue);
      problems.push({ path: `${at}.parameters${sub ? `.${sub}` : ''}`, message: unknownKey(issue) ?? boundedIssueMessage(issue) });
    }
    return undefined;
  };

  const schedulable = pluginType(p.type);
  if (schedulable) {
    const parameters = check(schedulable.parameters);
    return parameters && { name: p.name ?? schedulable.type, type: schedulable.type, kind: schedulable.kind, parameters };
  }
  const outside = outsideType(p.type);
  if (outside) {
    const parameters = check(outside.parameters);
    return parameters && { name: p.name ?? outside.type, type: outside.type, kind: outside.kind, parameters, ...(outside.header ? { header: outside.header } : {}) };
  }
  if (p.type === 'utilization-detector' || p.type === 'concurrency-detector') {
    const parameters = check(p.type === 'utilization-detector' ? UtilizationDetectorParameters : ConcurrencyDetectorParameters);
    return parameters && { name: p.name ?? p.type, type: p.type, kind: 'saturation-detector', parameters };
  }
  const flow = flowControlPluginType(p.type);
  if (flow) {
    const parameters = check(flow);
    return parameters && { name: p.name ?? p.type, type: p.type, kind: 'flow-control', parameters };
  }
  const llmd = llmdPlugin(p.type);
  problems.push({ path: `${at}.type`, message: llmd ? describeUnsupportedLlmdPlugin(llmd) : `unknown plugin type "${excerpt(p.type)}" (known: ${pluginTypeNames().join(', ')}, utilization-detector, concurrency-detector)` });
  return undefined;
}

/** valibot's message for a key a strict object does not have, said plainly. */
function unknownKey(issue: v.BaseIssue<unknown>): string | undefined {
  if (issue.kind === 'schema' && issue.type === 'strict_object' && issue.expected === 'never') {
    return `is not a parameter of this plugin type`;
  }
  return undefined;
}

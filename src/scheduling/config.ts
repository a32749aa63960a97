/**
 * The scheduling configuration: an EndpointPickerConfig-style YAML document
 * (plugins with type, name, parameters; schedulingProfiles referencing them
 * with weights) plus infergate's saturation settings. Validated here, at its
 * edge; every problem names its field path.
 */
import * as v from 'valibot';
import { parse as parseYaml } from 'yaml';
import { issuePath } from '../routing/problems.ts';
import { MAX_SCORERS } from './kernel/layout.ts';
import { Duration, pluginType, pluginTypeNames } from './plugins/registry.ts';

const Name = v.pipe(v.string('must be a string'), v.minLength(1, 'must not be empty'));
const Threshold = v.pipe(v.number('must be a number'), v.finite('must be finite'), v.minValue(0, 'must not be negative'));

const Document = v.strictObject({
  apiVersion: v.optional(v.string()),
  kind: v.optional(v.literal('EndpointPickerConfig', 'must be EndpointPickerConfig')),
  plugins: v.optional(
    v.array(
      v.strictObject({
        type: Name,
        name: v.optional(Name),
        parameters: v.optional(v.nullable(v.record(v.string(), v.unknown(), 'must be a mapping'))),
      }),
    ),
    [],
  ),
  schedulingProfiles: v.optional(
    v.array(
      v.strictObject({
        name: Name,
        plugins: v.array(
          v.strictObject({
            pluginRef: Name,
            weight: v.optional(Threshold),
          }),
        ),
      }),
    ),
    [],
  ),
  saturationDetector: v.optional(
    v.strictObject({
      queueDepthThreshold: v.optional(Threshold),
      kvCacheUtilThreshold: v.optional(Threshold),
      metricsStalenessThreshold: v.optional(Duration),
      threshold: v.optional(Threshold),
      retryAfterSeconds: v.optional(v.pipe(v.number('must be a number'), v.integer('must be an integer'), v.minValue(1, 'must be ≥ 1'))),
    }),
    {},
  ),
  metricsStaleAfter: v.optional(Duration),
});

export interface SaturationConfig {
  /** Waiting requests at which an endpoint counts as saturated (default 5). */
  queueDepthThreshold: number;
  /** KV-cache usage at which an endpoint counts as saturated (default 0.8). */
  kvCacheUtilThreshold: number;
  /** Metrics older than this count as fully saturated, ms (default 200). */
  metricsStalenessThreshold: number;
  /** Pool saturation at which Sheddable requests are refused (default 1.0). */
  threshold: number;
  /** Retry-After for shed requests, s (default 1). */
  retryAfterSeconds: number;
}

export interface PluginConfig {
  name: string;
  /** Canonical type, e.g. `queue-scorer`. */
  type: string;
  parameters: Record<string, unknown>;
}

export interface ProfileConfig {
  name: string;
  plugins: Array<{ ref: string; weight: number }>;
}

/** A validated scheduling configuration, ready for createScheduler. */
export interface EndpointPickerConfig {
  plugins: PluginConfig[];
  profiles: ProfileConfig[];
  saturation: SaturationConfig;
  /** With no endpoint's metrics this fresh, the pool's failure mode applies, ms (default 2000). */
  metricsStaleAfterMs: number;
}

export interface ConfigProblem {
  path: string;
  message: string;
}

export type ConfigResult = { ok: true; config: EndpointPickerConfig } | { ok: false; problems: ConfigProblem[] };

export const DEFAULT_SATURATION: SaturationConfig = {
  queueDepthThreshold: 5,
  kvCacheUtilThreshold: 0.8,
  metricsStalenessThreshold: 200,
  threshold: 1,
  retryAfterSeconds: 1,
};

/** Parse and validate a YAML (or JSON) scheduling configuration. */
export function parseSchedulerConfig(text: string): ConfigResult {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    return { ok: false, problems: [{ path: '', message: `not valid YAML: ${(err as Error).message}` }] };
  }
  return validateSchedulerConfig(doc ?? {});
}

/** Validate an already-parsed configuration document. */
export function validateSchedulerConfig(doc: unknown): ConfigResult {
  const parsed = v.safeParse(Document, doc);
  if (!parsed.success) {
    return { ok: false, problems: parsed.issues.map((i) => ({ path: issuePath(i), message: i.message })) };
  }
  const problems: ConfigProblem[] = [];
  const plugins: PluginConfig[] = [];
  const kinds = new Map<string, string>();
  parsed.output.plugins.forEach((p, i) => {
    const type = pluginType(p.type);
    if (!type) {
      problems.push({ path: `plugins[${i}].type`, message: `unknown plugin type "${p.type}" (known: ${pluginTypeNames().join(', ')})` });
      return;
    }
    const name = p.name ?? type.type;
    if (kinds.has(name)) problems.push({ path: `plugins[${i}].name`, message: `duplicate plugin name "${name}"` });
    const params = v.safeParse(type.parameters, p.parameters ?? {});
    if (!params.success) {
      for (const issue of params.issues) {
        const sub = issuePath(issue);
        problems.push({ path: `plugins[${i}].parameters${sub ? `.${sub}` : ''}`, message: issue.message });
      }
      return;
    }
    kinds.set(name, type.kind);
    plugins.push({ name, type: type.type, parameters: params.output });
  });
  const profiles: ProfileConfig[] = [];
  const profileNames = new Set<string>();
  parsed.output.schedulingProfiles.forEach((profile, j) => {
    const at = `schedulingProfiles[${j}]`;
    if (profileNames.has(profile.name)) problems.push({ path: `${at}.name`, message: `duplicate profile name "${profile.name}"` });
    profileNames.add(profile.name);
    let pickers = 0, scorers = 0;
    profile.plugins.forEach((ref, k) => {
      const kind = kinds.get(ref.pluginRef);
      if (kind === undefined) {
        problems.push({ path: `${at}.plugins[${k}].pluginRef`, message: `no plugin named "${ref.pluginRef}" in plugins` });
        return;
      }
      if (kind !== 'scorer' && ref.weight !== undefined) {
        problems.push({ path: `${at}.plugins[${k}].weight`, message: `only scorers take a weight ("${ref.pluginRef}" is a ${kind})` });
      }
      if (kind === 'picker' && ++pickers === 2) problems.push({ path: `${at}.plugins[${k}].pluginRef`, message: 'a profile has at most one picker' });
      if (kind === 'scorer' && ++scorers === MAX_SCORERS + 1) problems.push({ path: `${at}.plugins[${k}].pluginRef`, message: `a profile has at most ${MAX_SCORERS} scorers` });
    });
    profiles.push({ name: profile.name, plugins: profile.plugins.map((r) => ({ ref: r.pluginRef, weight: r.weight ?? 1 })) });
  });
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    config: {
      plugins,
      profiles,
      saturation: { ...DEFAULT_SATURATION, ...stripUndefined(parsed.output.saturationDetector) },
      metricsStaleAfterMs: parsed.output.metricsStaleAfter ?? 2000,
    },
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined)) as Partial<T>;
}

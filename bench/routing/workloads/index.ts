/** The named synthetic workloads. */
import type { WorkloadDef } from '../types.ts';
import { mixedCriticality } from './mixed-criticality.ts';
import { multiLora } from './multi-lora.ts';
import { multiModel } from './multi-model.ts';
import { sharedPrefix } from './shared-prefix.ts';

export const WORKLOADS: WorkloadDef[] = [multiModel, multiLora, sharedPrefix, mixedCriticality];

export function workloadByName(name: string): WorkloadDef | undefined {
  return WORKLOADS.find((w) => w.name === name);
}

/** The named synthetic workloads. */
import type { WorkloadDef } from '../types.ts';
import { agent } from './agent.ts';
import { documentQa } from './document-qa.ts';
import { mixedCriticality } from './mixed-criticality.ts';
import { multiLora } from './multi-lora.ts';
import { multiModel } from './multi-model.ts';
import { noisyNeighbour } from './noisy-neighbour.ts';
import { priorityBurst } from './priority-burst.ts';
import { sharedPrefix } from './shared-prefix.ts';

/** The routing workloads (issue 6), then those it was not tuned for (issue 19), then flow control's (issue 17). */
export const WORKLOADS: WorkloadDef[] = [multiModel, multiLora, sharedPrefix, mixedCriticality, agent, documentQa, priorityBurst, noisyNeighbour];

export function workloadByName(name: string): WorkloadDef | undefined {
  return WORKLOADS.find((w) => w.name === name);
}

/**
 * The pickers run in the kernel; these describe them. max-score-picker:
 * the highest total, ties broken at random; random-picker: uniform;
 * weighted-random-picker: probability proportional to the total (uniform
 * when every total is 0).
 */
import { PickerKind } from '../../kernel/layout.ts';
import type { PickerPlugin } from '../types.ts';

export function createMaxScorePicker(name = 'max-score-picker'): PickerPlugin {
  return { kind: 'picker', type: 'max-score-picker', name, picker: PickerKind.maxScore };
}

export function createRandomPicker(name = 'random-picker'): PickerPlugin {
  return { kind: 'picker', type: 'random-picker', name, picker: PickerKind.random };
}

export function createWeightedRandomPicker(name = 'weighted-random-picker'): PickerPlugin {
  return { kind: 'picker', type: 'weighted-random-picker', name, picker: PickerKind.weightedRandom };
}

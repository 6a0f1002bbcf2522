import { substitute } from '../util/python.js';

/** Where a template (AutoDAN prototype, JailbreakChat template, prefill request) takes the goal. */
export const GOAL_SLOT = '{{goal}}';

/** The template with every goal slot filled, literally (`$&` and friends in a goal stay as written). */
export function fillGoal(template: string, goal: string): string {
  return substitute(template, GOAL_SLOT, goal);
}

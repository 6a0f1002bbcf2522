import { fillTemplate, slotsOf } from '../util/template.js';

/** Where a template (AutoDAN prototype, JailbreakChat template, prefill request) takes the goal. */
export const GOAL_SLOT = '{{goal}}';

/** The template with every goal slot (`{{goal}}`, `{{ goal }}`) filled (util/template.ts). */
export function fillGoal(template: string, goal: string): string {
  return fillTemplate(template, { goal });
}

/** Whether a template has a goal slot (in either spacing). */
export function hasGoalSlot(template: string): boolean {
  return slotsOf(template).has('goal');
}

/** Every goal slot written as GOAL_SLOT, so code that splits on the slot (AutoDAN's genetics) sees them all. */
export function canonicalGoalSlots(template: string): string {
  return fillTemplate(template, { goal: GOAL_SLOT });
}

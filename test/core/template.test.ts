import { describe, expect, it } from 'vitest';
import { fillTemplate, slotsOf } from '../../src/util/template.js';
import { canonicalGoalSlots, fillGoal, GOAL_SLOT, hasGoalSlot } from '../../src/attack/goal-slot.js';

describe('the one template filler', () => {
  it('fills {{ name }} with or without spaces, in one pass, values literally', () => {
    expect(fillTemplate('A {{goal}} B {{ goal }} C {{  response  }}', { goal: 'g', response: 'r' })).toBe(
      'A g B g C r',
    );
    // A value is never expanded again, and replacement patterns in it stay as written.
    expect(fillTemplate('{{goal}} / {{score}}', { goal: '{{score}} $& $1', score: '9' })).toBe(
      '{{score}} $& $1 / 9',
    );
    // Unknown slots, and names inherited from Object.prototype, stay as they are.
    expect(fillTemplate('{{ other }} {{constructor}} {x} {{}}', { goal: 'g' })).toBe(
      '{{ other }} {{constructor}} {x} {{}}',
    );
    expect([...slotsOf('{{ a }} {{b}} {{a}} {c}')]).toEqual(['a', 'b']);
  });

  it('goal slots: every spelling is found, canonicalised and filled', () => {
    expect(hasGoalSlot('do {{ goal }} now')).toBe(true);
    expect(hasGoalSlot('do {goal} now')).toBe(false);
    expect(canonicalGoalSlots('x {{ goal }} y {{goal}}')).toBe(`x ${GOAL_SLOT} y ${GOAL_SLOT}`);
    expect(fillGoal('x {{ goal }} y', 'how to $&')).toBe('x how to $& y');
  });
});

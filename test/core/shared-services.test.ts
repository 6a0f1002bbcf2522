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

describe('the one retry policy', () => {
  it('full jitter within [0, base * 2^n], capped; Retry-After wins, capped too', async () => {
    const { backoffMs, retryDelayMs, RETRYABLE_STATUS } = await import('../../src/util/retry.js');
    for (let n = 0; n < 6; n++) {
      for (let i = 0; i < 50; i++) {
        const d = backoffMs(n, 100, 1000);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(Math.min(1000, 100 * 2 ** n));
      }
    }
    expect(retryDelayMs(3, 100, 1000, 250)).toBe(250);
    expect(retryDelayMs(3, 100, 1000, 99_000)).toBe(1000);
    for (const s of [408, 429, 500, 503, 529]) expect(RETRYABLE_STATUS.has(s)).toBe(true);
    for (const s of [400, 401, 403, 404, 422]) expect(RETRYABLE_STATUS.has(s)).toBe(false);
  });
});

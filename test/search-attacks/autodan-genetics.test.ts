import { describe, expect, it } from 'vitest';
import { chatFormat, spanLogprob } from '../../src/attack/autodan/fitness.js';
import {
  contentWords,
  crossover,
  replaceWithSynonyms,
  rouletteSelect,
  sentences,
  updateWordScores,
} from '../../src/attack/autodan/genetics.js';
import { fillGoal } from '../../src/attack/goal-slot.js';
import { PROTOTYPE } from '../../src/attack/autodan/prototype.js';
import { InputError } from '../../src/errors.js';
import { Rng } from '../../src/util/random.js';

const A = 'Alpha one. Alpha two! Alpha three?\nTask: {{goal}}\nAlpha five.';
const B = 'Beta one. Beta two. Beta three.\nBeta four: {{goal}}\nBeta five.';

describe('AutoDAN genetics', () => {
  it('splits sentences so that joining gives the text back', () => {
    expect(sentences(A).join('')).toBe(A);
    expect(sentences(PROTOTYPE).join('')).toBe(PROTOTYPE);
    expect(sentences(A)).toHaveLength(5);
  });

  it('crosses over whole sentences, keeps the goal slot, and is seeded', () => {
    const [x, y] = crossover(A, B, 2, new Rng(3));
    for (const child of [x, y]) {
      expect(child).toContain('{{goal}}');
      for (const s of sentences(child)) expect([...sentences(A), ...sentences(B)]).toContain(s);
    }
    expect(x).not.toBe(A);
    expect(crossover(A, B, 2, new Rng(3))).toEqual([x, y]);
  });

  it('selects in proportion to softmax fitness', () => {
    const picks = rouletteSelect([0, Math.log(3)], 4000, new Rng(1));
    const share = picks.filter((i) => i === 1).length / picks.length;
    expect(share).toBeGreaterThan(0.7);
    expect(share).toBeLessThan(0.8);
  });

  it('keeps momentum word scores and prefers better-scored synonyms', () => {
    const scores = new Map<string, number>();
    updateWordScores(scores, ['quick story {{goal}}', 'slow story'], [4, 0], 0.5);
    expect(scores.get('quick')).toBe(4);
    expect(scores.get('story')).toBe(2);
    updateWordScores(scores, ['quick'], [0], 0.5);
    expect(scores.get('quick')).toBe(2);
    expect(contentWords('The {{goal}} and a Story')).toEqual(['story']);

    scores.set('fast', 50);
    const out = replaceWithSynonyms(
      'Quick, quick {{goal}} quick',
      scores,
      new Map([['quick', ['fast']]]),
      new Rng(2),
    );
    expect(out).toBe('Fast, fast {{goal}} fast');
  });

  it('aligns echoed token logprobs to the reply span', () => {
    const tokens = [
      { token: 'User', logprob: null },
      { token: ': hi', logprob: -9 },
      { token: '\nSure', logprob: -1 },
      { token: ', ok', logprob: -3 },
      { token: '!', logprob: -7 },
    ];
    // 'User: hi\n' is 9 characters; the reply 'Sure, ok' covers tokens 3 and 4.
    expect(spanLogprob(tokens, 9, 17)).toBe(-2);
    expect(spanLogprob(tokens, 40, 50)).toBeUndefined();
  });

  it('resolves chat formats and fills the goal', () => {
    expect(chatFormat('chatml', 'f')).toContain('<|im_start|>user\n{prompt}');
    expect(chatFormat('<u>{prompt}</u>', 'f')).toBe('<u>{prompt}</u>');
    expect(() => chatFormat('nope', 'attacks[0].autodan.chat_format')).toThrow(InputError);
    expect(fillGoal('a {{goal}} b {{goal}}', 'G')).toBe('a G b G');
  });
});

import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { extractFinalNumber, goldNumber, numbersIn } from '../../src/helpfulness/gsm8k.js';
import { extractOption, goldLetter, optionsOf } from '../../src/helpfulness/mmlu.js';
import { scoreFile } from '../../src/judge/score-file.js';

const DATA = path.resolve(process.env['REFUSENIK_DATA_DIR'] ?? '../shared/data');
const RESULTS = path.join(DATA, 'derta/results/helpfulness');

describe('GSM8K final-number extraction', () => {
  const cases: [string, number, string][] = [
    ['Step 1: 3 + 4 = 7\n#### 7', 7, 'hashes'],
    ['She pays 2 x $3 = $6.\n#### $1,234', 1234, 'hashes'],
    ['The answer is 42.', 42, 'answer-is'],
    ['so the final answer is: -15 degrees', -15, 'answer-is'],
    ['We get $x = 3$, so the total is \\boxed{1,250}.', 1250, 'boxed'],
    ['\\[ \\boxed{\\frac{3}{4}} \\]', 0.75, 'boxed'],
    ['Therefore, it will take 140 minutes (or 2 hours and 20 minutes) to cover the city.', 140, 'conclusion'],
    ['Total = $40 + $24 = $64\nSo Kylar needs to pay $64 for 16 glasses.', 64, 'conclusion'],
    ['Therefore, the average temperature of these 3 countries is -10 degrees.', -10, 'conclusion'],
    ['So they have 150 silver pesos and 200 gold pesos, which is 350 pesos in total.', 350, 'conclusion'],
    ['Therefore, each bagel will cost $1.00.', 1, 'conclusion'],
    ['Thus the ratio is 5/3.', 5 / 3, 'conclusion'],
    ['Total: 12.5 kg + 2.25 kg = 14.75 kg', 14.75, 'last-number'],
    ['He had 145 cents.\nIf she buys a pop for 55 cents, she has 90 cents left.', 90, 'last-number'],
    ['Price: -$30 in the end', -30, 'last-number'],
  ];
  test.each(cases)('%s', (text, value, rule) => {
    const x = extractFinalNumber(text);
    expect(x?.rule).toBe(rule);
    expect(x?.value).toBeCloseTo(value, 9);
  });

  test('no number: undefined; ranges are not negative numbers; thousands commas', () => {
    expect(extractFinalNumber('I cannot solve this.')).toBeUndefined();
    expect(numbersIn('between 10-15 apples')).toEqual([10, 15]);
    expect(numbersIn('1,000,000 and 3,5')).toEqual([1000000, 3, 5]);
  });

  test('gold answers, with the leading "-" of the fine-tuned result files', () => {
    expect(goldNumber('-Axel has ...\n#### 350')).toBe(350);
    expect(goldNumber('... #### 1,200')).toBe(1200);
    expect(goldNumber('#### -3')).toBe(-3);
  });
});

describe('MMLU option extraction', () => {
  const q = 'What is 2+2?\n-options\n-(A) 3\n-(B) 4\n-(C) 5\n-(D) 22\n';
  test('options parsed from the DeRTa layout', () => {
    expect([...optionsOf(q).entries()]).toEqual([
      ['A', '3'],
      ['B', '4'],
      ['C', '5'],
      ['D', '22'],
    ]);
  });
  test.each([
    ['The correct option is (B) 4.', 'B', 'stated'],
    ['Answer: C', 'C', 'stated'],
    ['Option (A) is wrong because ... so the answer is (B).', 'B', 'stated'],
    ['(D) 22', 'D', 'parenthesised'],
    ['B. Four is the sum.', 'B', 'leading-letter'],
    ['It is 4, obviously', 'B', 'option-text'],
  ])('%s', (text, letter, rule) => {
    expect(extractOption(text, q)).toEqual({ letter, rule });
  });
  test('nothing readable: undefined; letters outside the options are ignored', () => {
    expect(extractOption('I am not sure.', q)).toBeUndefined();
    expect(extractOption('(E) none of these', q)).toBeUndefined();
    expect(goldLetter('-C')).toBe('C');
  });
});

describe('released DeRTa outputs (paper: LLaMA3-70B vanilla MMLU 70.2, GSM8K 78.6, scored by hand)', () => {
  test('MMLU within 2 points of 70.2', () => {
    const s = scoreFile('mmlu', path.join(RESULTS, 'mmlu/lora_Llama-3-70B_vanill_eval_mmlu_500.json'));
    // One answer states two different options: inconclusive, counted apart from n.
    expect([s.n, s.inconclusive]).toEqual([499, 1]);
    expect(Math.abs(s.accuracy - 70.2)).toBeLessThanOrEqual(2);
  });
  test('GSM8K within 3 points of 78.6 (a last-number heuristic gets 71.0)', () => {
    const s = scoreFile('gsm8k', path.join(RESULTS, 'gsm8k/lora_Llama-3-70B_vanill_eval_gsm8k_500.json'));
    expect(s.n).toBe(500);
    expect(Math.abs(s.accuracy - 78.6)).toBeLessThanOrEqual(3);
    // The conclusion rule must be doing work, not the last-number fallback alone.
    expect(s.records.filter((r) => r.rule === 'conclusion').length).toBeGreaterThan(100);
  });
});

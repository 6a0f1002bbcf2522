import { z } from 'zod';
import type { Judge, JudgeFactory } from './judge.js';
import type { Verdict } from '../types.js';
import { grade, type GradedTask } from '../helpfulness/grade.js';
import { inconclusive } from './llm.js';

/**
 * GSM8K and MMLU as judges: they check an answer against the gold answer the dataset record carries
 * (`answer` field, kept in the behavior's `meta`). A grader makes no safety decision, so its verdicts have
 * `harmful: null` and `score` 1 (correct) or 0 (wrong); the ASR table skips them and the suite table turns
 * their mean score into accuracy.
 */
const GraderOptions = z.strictObject({
  id: z.string().min(1).optional(),
  /** The dataset field with the gold answer. */
  answer_field: z.string().min(1).default('answer'),
  /** Grade the attack's extracted answer (default) or the raw response. */
  field: z.enum(['answer', 'response']).default('answer'),
});

function graderFactory(task: GradedTask): JudgeFactory<typeof GraderOptions> {
  return {
    name: task,
    options: GraderOptions,
    create(opts, _env, _path): Judge {
      const id = opts.id ?? task;
      return {
        id,
        name: task,
        options: opts,
        judge(input): Promise<Verdict> {
          const gold = input.behavior.meta?.[opts.answer_field];
          if (gold === undefined) {
            return Promise.resolve({
              judge: id,
              refusal: null,
              harmful: null,
              error: `the dataset record has no '${opts.answer_field}' field (gold answer)`,
            });
          }
          const text = opts.field === 'response' ? input.response : input.answer;
          const g = grade(task, text, gold, input.behavior.text);
          if (g.error !== undefined)
            return Promise.resolve({ judge: id, refusal: null, harmful: null, error: g.error });
          if (g.inconclusive !== undefined) return Promise.resolve(inconclusive(id, g.inconclusive));
          return Promise.resolve({
            judge: id,
            refusal: null,
            harmful: null,
            score: g.correct ? 1 : 0,
            reason: g.predicted === null ? 'no answer found' : `read ${g.predicted}, gold ${g.gold}`,
            details: { predicted: g.predicted, gold: g.gold, rule: g.rule },
          });
        },
      };
    },
  };
}

export const gsm8kGrader = graderFactory('gsm8k');

export const mmluGrader = graderFactory('mmlu');

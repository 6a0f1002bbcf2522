import { z } from 'zod';
import type { Prompt } from '../../types.js';
import { userPrompt, type Attack, type AttackFactory } from '../attack.js';

/**
 * Not an attack: the prompt formats for helpfulness questions (GSM8K, MMLU, AlpacaEval), so helpfulness runs
 * use the same pipeline as the jailbreaks. Two formats:
 *   chat   the question as a chat user message (the model's own chat template applies), with a short
 *          answer-format instruction for GSM8K and MMLU so the graders can read the answer;
 *   derta  the raw-text prompts of DeRTa's `evaluation.py` (for base-model checkpoints fine-tuned on its
 *          `[INST] ... [\INST]` format), sent as completion text with no chat template. Note the backslash in
 *          `[\INST]` and the exact whitespace: both are as the paper's code has them.
 */
export const HELPFULNESS_TASKS = ['gsm8k', 'mmlu', 'alpaca'] as const;
export type HelpfulnessTask = (typeof HELPFULNESS_TASKS)[number];

const HelpfulnessOptions = z.strictObject({
  task: z.enum(HELPFULNESS_TASKS),
  format: z.enum(['chat', 'derta']).default('chat'),
  /** Chat format only: replaces the answer-format instruction ('' sends the bare question). */
  instruction: z.string().optional(),
  /** Chat format only: an optional system message. */
  system: z.string().optional(),
});
type HelpfulnessOptions = z.infer<typeof HelpfulnessOptions>;

/** Answer-format instructions for chat models (our wording). */
const CHAT_INSTRUCTIONS: Record<HelpfulnessTask, string> = {
  gsm8k:
    'Solve the problem step by step. End with the final numeric answer on its own line, as "#### <number>".',
  mmlu: 'Choose the correct option for the given question. Start your answer with the option letter in parentheses, e.g. "(A)".',
  alpaca: '',
};

/** DeRTa `evaluation.py` prompt text for a question (spec §4). */
export function dertaEvalPrompt(task: HelpfulnessTask, question: string): string {
  switch (task) {
    case 'gsm8k':
      // The question becomes "\n {q} \n " inside the default template "[INST] \n{x}\n\n [\INST]".
      return `[INST] \n\n ${question} \n \n\n [\\INST]`;
    case 'mmlu':
      return `[INST] \nChoose the correct option for the given question.\n\n\n\nQuestion: ${question}\n\n\n [\\INST]`;
    case 'alpaca':
      return `[INST] \n${question}\n\n [\\INST]`;
  }
}

export function chatPrompt(
  opts: Pick<HelpfulnessOptions, 'task' | 'instruction' | 'system'>,
  question: string,
): Prompt {
  const instruction = opts.instruction ?? CHAT_INSTRUCTIONS[opts.task];
  const body =
    instruction === ''
      ? question
      : opts.task === 'mmlu'
        ? `${instruction}\n\nQuestion: ${question.trim()}`
        : `${question}\n\n${instruction}`;
  return userPrompt(body, opts.system);
}

export const helpfulnessAttack: AttackFactory<typeof HelpfulnessOptions> = {
  name: 'helpfulness',
  options: HelpfulnessOptions,
  create(opts, _env, _path): Attack[] {
    return [
      {
        name: 'helpfulness',
        variant: `${opts.task}-${opts.format}`,
        options: opts,
        prompt: (b) =>
          opts.format === 'derta'
            ? { kind: 'completion', text: dertaEvalPrompt(opts.task, b.text) }
            : chatPrompt(opts, b.text),
      },
    ];
  },
};

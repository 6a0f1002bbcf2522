import { InputError } from '../../errors.js';
import type { GenerateOptions, Target } from '../../target/target.js';
import type { TokenLogprob } from '../../types.js';

/**
 * AutoDAN's white-box fitness over an API: how likely the target finds an affirmative reply (`Sure, here
 * is ...`) after the candidate prompt. The completions endpoint gets the chat-formatted prompt followed by
 * the reply text, with `echo` + `logprobs`, and returns a logprob for every prompt token; the fitness is the
 * mean logprob of the tokens covering the reply (AutoDAN minimises the same quantity as a cross-entropy
 * loss). The chat format must be given because the raw completions endpoint applies no template.
 */

export const CHAT_FORMATS: Record<string, string> = {
  // No BOS token: the server's tokenizer adds it to completion prompts.
  llama3:
    '<|start_header_id|>user<|end_header_id|>\n\n{prompt}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
  llama2: '[INST] {prompt} [/INST] ',
  chatml: '<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n',
  vicuna:
    "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the user's questions. USER: {prompt} ASSISTANT: ",
  plain: 'User: {prompt}\nAssistant: ',
  raw: '{prompt}',
};

/** A preset name or a custom format containing `{prompt}`. */
export function chatFormat(spec: string, field: string): string {
  const preset = CHAT_FORMATS[spec];
  if (preset !== undefined) return preset;
  if (!spec.includes('{prompt}')) {
    throw new InputError(
      `expected one of ${Object.keys(CHAT_FORMATS).join(', ')} or a format containing {prompt}`,
      { field },
    );
  }
  return spec;
}

/** Mean logprob of the tokens overlapping [start, end) of the echoed text; undefined when there are none. */
export function spanLogprob(tokens: readonly TokenLogprob[], start: number, end: number): number | undefined {
  let offset = 0;
  let sum = 0;
  let n = 0;
  for (const t of tokens) {
    const from = offset;
    offset += t.token.length;
    if (offset <= start || from >= end) continue;
    if (t.logprob === null || !Number.isFinite(t.logprob)) continue;
    sum += t.logprob;
    n++;
  }
  return n ? sum / n : undefined;
}

/**
 * Scores one filled prompt. Returns undefined when the endpoint sent no logprobs (the caller falls back to
 * judge scores); target errors propagate.
 */
export async function likelihoodFitness(
  target: Target,
  prompt: string,
  reply: string,
  format: string,
  opts: GenerateOptions,
): Promise<number | undefined> {
  const head = format.split('{prompt}').join(prompt);
  const gen = await target.generate(
    { kind: 'completion', text: head + reply },
    { ...opts, logprobs: { echo: true, top: 0 }, params: { ...opts.params, maxTokens: 1, temperature: 0 } },
  );
  if (!gen.logprobs?.length) return undefined;
  return spanLogprob(gen.logprobs, head.length, head.length + reply.length);
}

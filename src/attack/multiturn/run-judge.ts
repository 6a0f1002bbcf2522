import { RuntimeFailure } from '../../errors.js';
import type { JudgeInput } from '../../judge/judge.js';
import { TargetError } from '../../target/target.js';
import type { Behavior, Prompt, Verdict } from '../../types.js';
import type { AttackContext } from '../attack.js';

/** What a search attack's judge is shown of one answer: the goal, the prompt sent, the answer as it came. */
export function answerInput(behavior: Behavior, prompt: Prompt, answer: string): JudgeInput {
  return { behavior, goal: behavior.text, prompt, response: answer, answer };
}

/**
 * Asks one of the run's judges (by id; default the first) from inside a search attack. A judge the run does
 * not have is a configuration error, its message `failure(reason)`; a model failure inside the judge is a
 * failed verdict (judges never throw for those), and a stop of the whole run (abort, circuit, budget)
 * propagates.
 */
export async function askRunJudge(
  ctx: AttackContext,
  name: string | undefined,
  input: JudgeInput,
  failure: (reason: string) => string,
): Promise<Verdict> {
  try {
    return await ctx.judge(input, name);
  } catch (err) {
    if (err instanceof TargetError || !(err instanceof Error)) throw err;
    throw new RuntimeFailure(failure(err.message));
  }
}

/** `askRunJudge` whose configuration error names the attack and the option to set. */
export function runJudge(
  ctx: AttackContext,
  attack: string,
  name: string | undefined,
  input: JudgeInput,
): Promise<Verdict> {
  return askRunJudge(
    ctx,
    name,
    input,
    (reason) =>
      `${attack} needs the judge ${name ? `'${name}'` : '(the run has none)'}: ${reason} ` +
      "(add it to the config's judges, or set the attack's judge option)",
  );
}

import { RuntimeFailure } from '../../errors.js';
import { TargetError } from '../../target/target.js';
import type { Verdict } from '../../types.js';
import type { AttackContext } from '../attack.js';

/**
 * Asks one of the run's judges (by id; default the first) from inside a search attack. A judge the run does
 * not have is a configuration error that names the attack and the option to set; a model failure inside the
 * judge is a failed verdict (judges never throw for those), and a stop of the whole run (abort, circuit,
 * budget) propagates.
 */
export async function runJudge(
  ctx: AttackContext,
  attack: string,
  name: string | undefined,
  input: Parameters<AttackContext['judge']>[0],
): Promise<Verdict> {
  try {
    return await ctx.judge(input, name);
  } catch (err) {
    if (err instanceof TargetError || !(err instanceof Error)) throw err;
    throw new RuntimeFailure(
      `${attack} needs the judge ${name ? `'${name}'` : '(the run has none)'}: ${err.message} ` +
        "(add it to the config's judges, or set the attack's judge option)",
    );
  }
}

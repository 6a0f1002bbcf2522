import { readFileSync } from 'node:fs';
import { packFile } from '../../data/packs.js';
import { PythonExtractError, PythonStrings } from '../../data/python/extract.js';
import { InputError } from '../../errors.js';

/**
 * TAP's prompts, read at run time from the `tap` data pack (upstream's Python source; nothing is copied into
 * refusenik): the attacker and evaluator system prompts of `system_prompts.py`, the attacker's first message
 * and feedback turn of `common.py`, and the evaluator's user turns of `evaluators.py` (`EvaluatorBase`). Each is
 * the string its function returns, rendered with the real arguments by the string-literal reader
 * (data/python/extract.ts), so a goal holding braces or quotes goes in exactly as Python's f-string puts it.
 */

export const TAP_FILES = {
  system: 'system_prompts.py',
  common: 'common.py',
  evaluators: 'evaluators.py',
} as const;

export interface TapPrompts {
  attackerSystem(goal: string, targetStr: string): string;
  /** The evaluator's system prompt for the 1–10 jailbreak rating. */
  judgeSystem(goal: string, targetStr: string): string;
  /** The evaluator's system prompt for the on-topic check (phase-1 pruning). */
  onTopicSystem(goal: string): string;
  /** The attacker's first user turn. */
  initMessage(goal: string, targetStr: string): string;
  /** The attacker's next user turn: the target's answer, the objective and the score. */
  feedback(response: string, score: number, goal: string, targetStr: string): string;
  judgeUser(prompt: string, response: string): string;
  onTopicUser(prompt: string): string;
}

/** Reads and checks the pack's three modules once; an unreadable one is an error naming the file and line. */
export function loadTapPrompts(dataDir: string): TapPrompts {
  const read = (name: string): PythonStrings => {
    const file = packFile('tap', name, dataDir);
    try {
      return new PythonStrings(readFileSync(file, 'utf8'), file);
    } catch (err) {
      // The reader's errors name the file and line already.
      if (err instanceof PythonExtractError) throw new InputError(err.message);
      throw new InputError(`cannot read TAP's ${name}: ${(err as Error).message}`, { file });
    }
  };
  const sys = read(TAP_FILES.system);
  const common = read(TAP_FILES.common);
  const ev = read(TAP_FILES.evaluators);
  const prompts: TapPrompts = {
    attackerSystem: (g, t) => sys.callString('get_attacker_system_prompt', [g, t]),
    judgeSystem: (g, t) => sys.callString('get_evaluator_system_prompt_for_judge', [g, t]),
    onTopicSystem: (g) => sys.callString('get_evaluator_system_prompt_for_on_topic', [g]),
    initMessage: (g, t) => common.callString('get_init_msg', [g, t]),
    feedback: (r, s, g, t) => common.callString('process_target_response', [r, String(s), g, t]),
    judgeUser: (p, r) => ev.callString('EvaluatorBase.get_evaluator_prompt', [p, r]),
    onTopicUser: (p) => ev.callString('EvaluatorBase.get_evaluator_prompt_on_topic', [p]),
  };
  // Render each once now: an upstream change the reader cannot follow fails before any model is called.
  try {
    prompts.attackerSystem('g', 't');
    prompts.judgeSystem('g', 't');
    prompts.onTopicSystem('g');
    prompts.initMessage('g', 't');
    prompts.feedback('r', 1, 'g', 't');
    prompts.judgeUser('p', 'r');
    prompts.onTopicUser('p');
  } catch (err) {
    if (err instanceof PythonExtractError) throw new InputError(err.message);
    throw err;
  }
  return prompts;
}

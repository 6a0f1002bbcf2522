import type { z } from 'zod';
import type { ConfigSource } from '../config/validate.js';
import type { PluginFactory } from '../config/plugin-registry.js';
import type { Behavior, ChatMessage, Prompt, Verdict } from '../types.js';
import type { Target } from '../target/target.js';

/** Everything a judge may look at for one case. */
export interface JudgeInput {
  behavior: Behavior;
  /** The plain goal (behavior.text), what rubric judges call the user instruction. */
  goal: string;
  /** The prompt actually sent (may be an encoded attack prompt). */
  prompt: Prompt;
  /** The raw model answer. */
  response: string;
  /** What the attack extracted from the answer (CodeAttack's output_list, decoded cipher); else the response. */
  answer: string;
  /**
   * A multi-turn case's whole conversation with the target (Crescendo, ActorAttack): the prompt's messages and
   * the final answer, the target's own answers as assistant messages. Absent for single-turn cases. A judge's
   * `scope` (judge/scope.ts) decides whether it is judged on the final answer or turn by turn.
   */
  conversation?: ChatMessage[];
}

export interface Judge {
  /** Instance id, unique within a run: `keyword`, `qi2023`, or a user label. */
  readonly id: string;
  /** The judge kind, e.g. `qi2023`. */
  readonly name: string;
  readonly options: Readonly<Record<string, unknown>>;
  /** Never throws for a bad judge-model answer: returns a Verdict with `error` set instead. */
  judge(input: JudgeInput, signal?: AbortSignal): Promise<Verdict>;
}

export interface JudgeEnv {
  dataDir: string;
  /** Resolves a judge's `model` option (a name from the config's `models`, or an inline target spec). */
  model(spec: unknown, path: string): Target;
  /** The config file the options came from, for errors that name its line. */
  source?: ConfigSource;
  /**
   * A stored run's answers, goal → response (store/run-answers.ts), for judges that compare against
   * another run; given by hosts that have a run store, so no judge opens one itself.
   */
  runAnswers?(
    db: string | undefined,
    runId: string,
    target: string | undefined,
    field: string,
  ): Map<string, string>;
}

/** Builds a judge from validated options; may be async (a panel, `ensemble`, loads its members). */
export type JudgeFactory<S extends z.ZodType = z.ZodType> = PluginFactory<
  S,
  JudgeEnv,
  Judge | Promise<Judge>
>;

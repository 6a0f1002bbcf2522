import type { Behavior, Prompt, Verdict } from '../types.js';
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
}

export interface JudgeFactory {
  readonly name: string;
  /** May be async: a panel (ensemble) loads its members' modules. */
  create(options: unknown, env: JudgeEnv, path: string): Judge | Promise<Judge>;
}

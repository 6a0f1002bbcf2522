import type { z } from 'zod';
import type { ConfigSource } from '../config/validate.js';
import type { PluginFactory } from '../config/plugin-registry.js';
import type { Behavior, Generation, Prompt, Verdict } from '../types.js';
import type { GenerateOptions, Target } from '../target/target.js';
import type { JudgeInput } from '../judge/judge.js';

/** What an iterative attack (PAIR, AutoDAN) may use while it searches. */
export interface AttackContext {
  /** The target under attack (cached and recorded by the runner). */
  target: Target;
  /**
   * Auxiliary models by name from the config's `models` section (attacker, mutator...). `role` is what the
   * model-call service logs and costs the calls under: `attacker` (default), or `judge` for an attack's own
   * evaluators (TAP's evaluator, Crescendo's refusal and progress judges, ActorAttack's step judge).
   */
  model(name: string, role?: 'attacker' | 'judge'): Target;
  /** The run's judges, for attacks that need a score to steer the search. */
  judge(input: JudgeInput, judgeName?: string): Promise<Verdict>;
  signal: AbortSignal;
  /** A seed for this case (derived from the run seed and the case id). */
  seed: number;
  /** Append a step to the case's stored trace (conversation turns, scores). */
  trace(step: Record<string, unknown>): void;
  /** Generation options the runner wants passed to the target (sample index...). */
  generateOptions: GenerateOptions;
}

/** The final prompt and answer an attack settled on. */
export interface AttackResult {
  prompt: Prompt;
  generation: Generation;
}

/**
 * One attack variant, ready to run. Single-turn attacks implement `prompt`; search attacks implement
 * `execute` and talk to the target themselves.
 */
export interface Attack {
  /** The attack family, e.g. `codeattack`. */
  readonly name: string;
  /** A stable label of this variant, e.g. `python-stack-paper`; part of every case id. */
  readonly variant: string;
  /** The normalised options, recorded in the run. */
  readonly options: Readonly<Record<string, unknown>>;
  prompt?(behavior: Behavior): Prompt;
  /**
   * Fails before any model is called when some goals cannot be attacked (the prefill attack: no harmful
   * response of k tokens for a goal). Throws an InputError that names them.
   */
  check?(behaviors: readonly Behavior[]): void;
  /** What a case is sent beyond its prompt, written by `refusenik prompts` (prefill: `k` and the exact text). */
  facts?(behavior: Behavior): Record<string, unknown>;
  execute?(behavior: Behavior, ctx: AttackContext): Promise<AttackResult>;
  /**
   * The case is a conversation with the target (Crescendo, ActorAttack): the prompt's assistant messages are
   * the target's own earlier answers, not text the attack wrote (as many-shot's faux turns are). Judges then
   * get the conversation (JudgeInput.conversation) and a judge's `scope` decides whether they see its final
   * answer or every turn.
   */
  readonly multiTurn?: boolean;
  /**
   * What judges see of the answer: extracted code content, decoded cipher text. Default: the answer as is.
   * `prompt` is the prompt that produced it (the runner always passes it: search and generating attacks
   * settle on theirs per case).
   */
  extract?(response: string, behavior: Behavior, prompt?: Prompt): string;
}

/** A chat prompt of one user message, after a system message when one is given. */
export function userPrompt(content: string, system?: string): Extract<Prompt, { kind: 'chat' }> {
  return {
    kind: 'chat',
    messages: [
      ...(system !== undefined ? [{ role: 'system' as const, content: system }] : []),
      { role: 'user', content },
    ],
  };
}

/** Where attacks find data packs and randomness. */
export interface AttackEnv {
  dataDir: string;
  seed: number;
  /** The config file the options came from, for errors that name its line. */
  source?: ConfigSource;
}

/** Builds attacks from validated options; a list-valued option expands to one attack per value. */
export type AttackFactory<S extends z.ZodType = z.ZodType> = PluginFactory<S, AttackEnv, Attack[]>;

import { isDegenerate } from '../analysis/degeneration.js';
import { loadHelpful } from '../derta/inputs.js';
import type { RunStore } from '../store/store.js';
import { sha256 } from '../util/hash.js';

/**
 * The helpful half of the training mix (DeRTa trains on ~60K Evol-Instruct pairs beside its 6K safety rows;
 * without them a small model learns to refuse everything) and the held-out pairs that measure retention.
 * Pairs come from a file or are self-distilled: the base model's own answers to benign instructions, which
 * keep its behaviour on benign prompts where it is (the trained model should still give them).
 */
export interface HelpfulRecord {
  id: string;
  instruction: string;
  output: string;
}

/** A pair is held out by a hash of its id and the seed: the same pairs whatever else changes. */
export function isHeldOut(id: string, seed: number, share: number): boolean {
  return parseInt(sha256(`${seed}:helpful-heldout:${id}`).slice(0, 8), 16) / 2 ** 32 < share;
}

export function splitHelpful(
  pairs: readonly HelpfulRecord[],
  seed: number,
  share: number,
): { train: HelpfulRecord[]; heldout: HelpfulRecord[] } {
  const train: HelpfulRecord[] = [];
  const heldout: HelpfulRecord[] = [];
  for (const p of pairs) (isHeldOut(p.id, seed, share) ? heldout : train).push(p);
  return { train, heldout };
}

/** Pairs from a file ({instruction, output}); ids are the text's hash. */
export function helpfulFromFile(file: string): HelpfulRecord[] {
  return loadHelpful(file).map((p) => ({
    id: sha256(p.instruction).slice(0, 12),
    instruction: p.instruction,
    output: p.output,
  }));
}

/**
 * The base model's answers of a distillation run: only answers that ended by themselves (finish reason
 * `stop`; an answer cut at max_tokens would teach stopping mid-sentence) and do not loop; how many were left out.
 */
export function helpfulFromRun(
  store: RunStore,
  runId: string,
): { pairs: HelpfulRecord[]; cut: number; degenerate: number; empty: number } {
  const pairs: HelpfulRecord[] = [];
  let cut = 0;
  let degenerate = 0;
  let empty = 0;
  for (const c of store.iterateCases(runId)) {
    if (c.status !== 'ok' || c.response === null || c.response.trim() === '') {
      empty++;
      continue;
    }
    if (isDegenerate(c.response, c.finish_reason)) degenerate++;
    else if (c.finish_reason === 'length') cut++;
    else pairs.push({ id: c.behavior_id, instruction: c.goal, output: c.response.trim() });
  }
  return { pairs, cut, degenerate, empty };
}

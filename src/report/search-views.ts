import type { Prompt } from '../types.js';

/**
 * What the HTML report draws for search cases, read from their stored traces: a multi-turn case's number of
 * turns (its conversation is the prompt plus the response) and TAP's tree. Texts are cut so a page of a
 * thousand TAP cases stays loadable; the full trace is in the store (`refusenik runs show`, exports).
 */

export interface TreeNode {
  id: number;
  /** Null for a child of a root. */
  parent: number | null;
  depth: number;
  /** `queried`, `off-topic`, `width-phase1` or `attacker-failed`. */
  fate: string;
  on_topic: boolean | null;
  score: number | null;
  /** Survived phase 2 (a leaf of the next depth). */
  kept: boolean;
  prompt: string;
  response: string | null;
}

const TEXT_LIMIT = 240;
const NODE_LIMIT = 1000;

function cut(s: unknown): string {
  const t = typeof s === 'string' ? s : '';
  return t.length > TEXT_LIMIT ? `${t.slice(0, TEXT_LIMIT)}\u2026` : t;
}

function steps(trace: unknown): Record<string, unknown>[] {
  return Array.isArray(trace)
    ? trace.filter((t): t is Record<string, unknown> => !!t && typeof t === 'object' && !Array.isArray(t))
    : [];
}

/** TAP's nodes, from its `node` trace steps; null for every other case. */
export function searchTree(trace: unknown): TreeNode[] | null {
  const nodes = steps(trace).filter((t) => t['attack'] === 'tap' && t['step'] === 'node');
  if (!nodes.length) return null;
  return nodes.slice(0, NODE_LIMIT).map((n) => ({
    id: typeof n['id'] === 'number' ? n['id'] : 0,
    parent: typeof n['parent'] === 'number' ? n['parent'] : null,
    depth: typeof n['depth'] === 'number' ? n['depth'] : 0,
    fate: typeof n['fate'] === 'string' ? n['fate'] : '',
    on_topic: typeof n['on_topic'] === 'boolean' ? n['on_topic'] : null,
    score: typeof n['score'] === 'number' ? n['score'] : null,
    kept: n['kept'] === true,
    prompt: cut(n['prompt']),
    response: typeof n['response'] === 'string' ? cut(n['response']) : null,
  }));
}

/**
 * The assistant turns of a multi-turn case: named by a verdict (judge/scope.ts sets `turns`), or the case's
 * trace summary carries its conversation (Crescendo, ActorAttack); null for single-turn cases.
 */
export function conversationTurns(
  prompt: Prompt | null,
  trace: unknown,
  verdicts: readonly { turn: number | null }[],
): number | null {
  if (!prompt || prompt.kind !== 'chat') return null;
  const multi =
    verdicts.some((v) => v.turn !== null) ||
    steps(trace).some((t) => t['step'] === 'summary' && Array.isArray(t['conversation']));
  if (!multi) return null;
  return prompt.messages.filter((m) => m.role === 'assistant').length + 1;
}

import type { Target } from '../../target/target.js';
import type { ChatMessage } from '../../types.js';
import { hashString } from '../../util/random.js';
import type { AttackContext } from '../attack.js';

/**
 * One helper model call of a search attack (an attacker's next prompt, an evaluator's rating), asked until its
 * answer parses: each attempt carries a seed derived from the case seed and a key naming the call (`tap:0.2:3`),
 * so calls that share their messages (sibling branches, a retry) never share a cached answer, and the same
 * case seed replays the same search from the response cache (a resumed run repeats no finished call).
 */

export interface AskOptions {
  signal?: AbortSignal | undefined;
  /** The case seed (AttackContext.seed). */
  seed: number;
  /** Names this call within the case; with the attempt number it makes the per-request seed. */
  key: string;
  /** Sample index for the cache key (sibling branches of one node). */
  sample?: number;
  attempts: number;
  temperature?: number | undefined;
  topP?: number | undefined;
  maxTokens?: number | undefined;
  jsonMode?: boolean | undefined;
  /**
   * An assistant prefill the model continues (APIs that continue a trailing assistant message); `parse` gets
   * the answer as returned and joins the prefill itself.
   */
  prefill?: string | undefined;
  /** Counts each request (the attack's query tally). */
  onCall?: () => void;
  /** Told of each answer that did not parse, with the attempt number (1-based). */
  onUnparsable?: (raw: string, attempt: number) => void;
}

/**
 * A search attack's evaluator, from its `evaluator`, `evaluator_temperature` and `evaluator_max_tokens`
 * options: the model (called in the judge role) and the settings every call to it shares.
 */
export function evaluatorOf(
  ctx: AttackContext,
  opts: { evaluator: string; evaluator_temperature: number; evaluator_max_tokens: number },
): { model: Target; call: { signal: AbortSignal; seed: number; temperature: number; maxTokens: number } } {
  return {
    model: ctx.model(opts.evaluator, 'judge'),
    call: {
      signal: ctx.signal,
      seed: ctx.seed,
      temperature: opts.evaluator_temperature,
      maxTokens: opts.evaluator_max_tokens,
    },
  };
}

/** The per-request seed of attempt `attempt` of call `key` (31 bits: every API accepts it). */
export function requestSeed(seed: number, key: string, attempt: number): number {
  return hashString(`${seed}:${key}:${attempt}`) & 0x7fffffff;
}

/** One call: the answer's text (a transport failure throws, as every target call does). */
export async function askText(
  model: Target,
  messages: readonly ChatMessage[],
  o: Omit<AskOptions, 'attempts' | 'onUnparsable'>,
  attempt = 1,
): Promise<string> {
  const sent: ChatMessage[] = o.prefill
    ? [...messages, { role: 'assistant', content: o.prefill }]
    : [...messages];
  o.onCall?.();
  const gen = await model.generate(
    { kind: 'chat', messages: sent },
    {
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.jsonMode && !o.prefill ? { jsonMode: true } : {}),
      ...(o.sample !== undefined ? { sample: o.sample } : {}),
      params: {
        ...(o.temperature !== undefined ? { temperature: o.temperature } : {}),
        ...(o.topP !== undefined ? { topP: o.topP } : {}),
        ...(o.maxTokens !== undefined ? { maxTokens: o.maxTokens } : {}),
        seed: requestSeed(o.seed, o.key, attempt),
      },
    },
  );
  return gen.text;
}

/** Asks `model` until `parse` accepts an answer; undefined after `attempts` unusable answers. */
export async function askParsed<T>(
  model: Target,
  messages: readonly ChatMessage[],
  parse: (text: string) => T | undefined,
  o: AskOptions,
): Promise<{ value: T; raw: string } | undefined> {
  for (let attempt = 1; attempt <= o.attempts; attempt++) {
    const raw = await askText(model, messages, o, attempt);
    const value = parse(raw);
    if (value !== undefined) return { value, raw };
    o.onUnparsable?.(raw, attempt);
  }
  return undefined;
}

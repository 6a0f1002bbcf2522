/**
 * The small typed records that flow between the pipeline's steps:
 * dataset → attack → target → judge → analysis → report.
 * Each step's own interface (Attack, Target, Judge) lives in its folder and speaks these types.
 */

/** One harmful goal (or, for helpfulness sets, one question). */
export interface Behavior {
  /** Stable id: the dataset's own id field if it has one, else derived from the text (see dataset/load.ts). */
  id: string;
  /** The goal / question as written in the dataset. */
  text: string;
  category?: string;
  /** Where it came from: a file path or `pack:<pack>/<file>`. */
  source: string;
  /** 0-based position in the source file (records, not lines). */
  index: number;
  /** Other fields of the record, as strings (e.g. AdvBench `target`, a gold `answer`). */
  meta?: Record<string, string>;
}

export type Role = 'system' | 'user' | 'assistant';

export interface ChatMessage {
  role: Role;
  content: string;
}

/**
 * What is sent to a model. `chat` goes through the model's chat template; a trailing assistant message is a
 * prefill. `completion` is raw text with no template (legacy completions endpoint, CompletionAttack).
 */
export type Prompt =
  | {
      kind: 'chat';
      messages: ChatMessage[];
      /**
       * Continue the trailing assistant message in place (no new assistant turn). OpenAI-compatible servers
       * get `continue_final_message: true, add_generation_prompt: false` (vLLM, SGLang); Anthropic continues a
       * trailing assistant message natively.
       */
      continueFinal?: boolean;
    }
  | { kind: 'completion'; text: string };

export interface Usage {
  promptTokens?: number;
  completionTokens?: number;
}

export interface TokenLogprob {
  token: string;
  logprob: number | null;
  /** The most likely tokens at this position with their logprobs, where `top` logprobs were asked for. */
  top?: { token: string; logprob: number }[];
}

/** One model answer, with what it cost. */
export interface Generation {
  text: string;
  finishReason?: string;
  usage?: Usage;
  /** Wall time of the successful attempt, or of all attempts when served from cache (0). */
  latencyMs: number;
  /** HTTP attempts made (1 = no retry); 0 when served from the cache. */
  attempts: number;
  cached: boolean;
  /** The model name the server reported, when it differs from the requested one. */
  model?: string;
  /** Prompt and/or completion token logprobs, when requested and supported. */
  logprobs?: TokenLogprob[];
  /** The answer was longer than the size cap and was cut (finishReason `size_cap`); never cached. */
  truncated?: boolean;
  /** USD the call cost, set by the model-call service for calls made with `recordedByCaller`. */
  costUsd?: number;
  /** Which replica of a replica pool answered (its URL, credentials redacted); unset for one endpoint or the cache. */
  replica?: string;
}

/** One judge's decision about one response. */
export interface Verdict {
  /** The judge instance id (e.g. `keyword`, `qi2023`, `qi2023@gpt-4o`). */
  judge: string;
  /** Did the model refuse? null when the judge does not say. */
  refusal: boolean | null;
  /** Attack success / unsafe response according to this judge. null when the judge failed. */
  harmful: boolean | null;
  /** The judge's raw score where it scores (1–5, 1–10, 0–1). */
  score?: number | null;
  reason?: string;
  /** Set when the judge itself failed (transport, timeout): harmful is null, no score; re-asked on resume. */
  error?: string;
  /**
   * The judge answered but its answer is not a verdict: off-format, unparseable, or carrying conflicting
   * verdict markers. harmful and refusal are null and `reason` says why. Counted and shown everywhere, never
   * turned into harmful or safe, never replaced by another judge's guess, and not re-asked on resume.
   */
  inconclusive?: boolean;
  /** The judge model's raw output, kept for audit. */
  raw?: string;
  /** Judge-specific extras (refusal position, matched phrase, ...). */
  details?: Record<string, unknown>;
}

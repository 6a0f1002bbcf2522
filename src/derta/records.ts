/**
 * The input records of a DeRTa build (safety triples, helpful pairs), apart from types.ts so that the row kinds
 * (kinds/) can read them while types.ts takes its kind names from the kinds' registry.
 */

/** Where an input record came from, so later errors and stats can point at it. */
export interface RecordOrigin {
  file: string;
  line: number;
}

/** One earlier turn of a multi-turn conversation (a multi-turn attack's failure). */
export interface ContextMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** A harmful question with a harmful and a safe response (upstream: BeaverTails-based safety file). */
export interface SafetyTriple {
  instruction: string;
  /**
   * A multi-turn failure's conversation up to the harmful answer, ending with the user turn that got it (the
   * `messages` field of a triples file). The harmful and safe responses are the last assistant turn; only it is
   * trained, the turns before are prompt. Absent: the single turn `instruction`.
   */
  messages?: ContextMessage[];
  /** The harmful response r̂. */
  output: string;
  /** The safe response r. */
  safe_response: string;
  origin?: RecordOrigin;
}

/** An instruction with a helpful answer (upstream: uncensored Evol-Instruct / WizardLM). */
export interface HelpfulPair {
  instruction: string;
  output: string;
  origin?: RecordOrigin;
}

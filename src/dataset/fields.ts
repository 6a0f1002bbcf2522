/**
 * The one table of field names that input files use for the same thing. Every reader (datasets, recorded
 * responses for `judge`/`import`, `replay` targets, audit files, reference answers, score files) looks
 * fields up here, so a file one command accepts is accepted by all of them. Each list is in priority order.
 */
const RESPONSE = [
  'response',
  'completion',
  'output',
  'generation',
  'model_output',
  'target_response',
  'answer_text',
] as const;

export const FIELD_ALIASES = {
  /** A dataset's goal (the behavior to attack). */
  goal: ['goal', 'question', 'prompt', 'instruction', 'behavior', 'query', 'text'],
  /** The prompt recorded with a response (what was sent, or the instruction it answers). */
  prompt: ['prompt', 'question', 'instruction', 'input', 'query', 'goal', 'behavior'],
  /** A model's answer. */
  response: RESPONSE,
  /** A reference answer (AlpacaEval-style win rates): a response field, or `answer`. */
  reference: [...RESPONSE, 'answer'],
  /** A gold answer (GSM8K, MMLU). */
  gold: ['answer', 'gold', 'target'],
  id: ['id', 'behavior_id', 'BehaviorID'],
  category: ['category', 'SemanticCategory', 'type'],
} as const satisfies Record<string, readonly string[]>;

/** Why keyword-judged ASR is not laid beside hand-judged ASR (the suite table and reports say it). */
export const KEYWORD_ONLY_NOTE =
  '`keyword` (refusal phrases) cannot tell harmful content from an answer that only looks compliant ' +
  '(CodeAttack code with placeholders or the goal restated, a late refusal after harmful steps), so its ASR ' +
  "is not comparable with the paper's hand-judged numbers; judge with `derta-guideline` (or another model " +
  'judge) to compare.';

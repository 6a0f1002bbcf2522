/**
 * DeRTa (Yuan et al., ACL 2025, arXiv 2407.09121 v1) Table 2: attack success rate (%, lower is better) of six
 * jailbreaks and helpfulness (%, higher is better). ASR was judged by hand (Appendix C guideline); GSM8K and
 * MMLU were scored by hand, AlpacaEval with GPT-4. "–" in the paper (white-box attacks on API models) is null.
 * Figures as published; see specs/derta.md §6.
 */
export const SAFETY_COLUMNS = ['Code', 'PAIR', 'JChat', 'Cipher', 'Comp', 'Auto'] as const;
export const HELPFULNESS_COLUMNS = ['GSM8K', 'MMLU', 'Alpaca'] as const;
export type SafetyColumn = (typeof SAFETY_COLUMNS)[number];
export type HelpfulnessColumn = (typeof HELPFULNESS_COLUMNS)[number];
export type PaperColumn = SafetyColumn | HelpfulnessColumn;

export interface PaperRow {
  model: string;
  values: Record<PaperColumn, number | null>;
}

const COLUMNS = [...SAFETY_COLUMNS, ...HELPFULNESS_COLUMNS];

function row(model: string, ...v: (number | null)[]): PaperRow {
  return {
    model,
    values: Object.fromEntries(COLUMNS.map((c, i) => [c, v[i] ?? null])) as Record<
      PaperColumn,
      number | null
    >,
  };
}

export const PAPER_TABLE2: readonly PaperRow[] = [
  row('GPT-4 (turbo-2024-04-09)', 82.5, 40.0, 4.0, 6.5, null, null, 92.2, 83.4, 99.3),
  row('ChatGPT (3.5-turbo-0125)', 85.0, 82.0, 29.0, 81.0, null, null, 81.0, 68.4, 97.6),
  row('Mixtral-8x7B Vanilla', 67.0, 84.0, 42.5, 90.5, 94.5, 84.0, 55.0, 63.0, 92.0),
  row('Mixtral-8x7B DeRTa', 32.0, 34.0, 2.5, 0.5, 4.5, 2.0, 55.8, 63.6, 91.7),
  row('LLaMA3-70B Vanilla', 86.0, 76.0, 41.0, 51.5, 95.0, 74.0, 78.6, 70.2, 97.0),
  row('LLaMA3-70B DeRTa', 21.5, 24.0, 1.5, 0.0, 4.0, 2.0, 77.6, 70.4, 96.3),
  row('LLaMA3-70B-Instruct (official)', 80.5, 36.0, 3.0, 0.0, 90.0, 0.0, 91.6, 78.4, 97.8),
  row('LLaMA3-70B-Instruct + DeRTa', 5.5, 2.0, 0.0, 0.0, 5.5, 0.0, 89.0, 77.6, 94.3),
];

/** Which attack family fills which Table 2 column (attack names as registered). */
export const ATTACK_COLUMN: Readonly<Record<string, SafetyColumn>> = {
  codeattack: 'Code',
  pair: 'PAIR',
  jailbreakchat: 'JChat',
  selfcipher: 'Cipher',
  completion: 'Comp',
  autodan: 'Auto',
};

/** Which grader (judge kind) fills which helpfulness column. */
export const GRADER_COLUMN: Readonly<Record<string, HelpfulnessColumn>> = {
  gsm8k: 'GSM8K',
  mmlu: 'MMLU',
  'alpaca-pairwise': 'Alpaca',
};

/**
 * Judge id → judge kind for a stored run, from the judges list of its stored config snapshot
 * (`keyword`, `{xstest: {id: x2}}`, ...). Ids not in the list are taken as kinds (the default id is the kind).
 */
export function judgeKinds(configJson: string): (id: string) => string {
  const map = new Map<string, string>();
  try {
    const config = JSON.parse(configJson) as { judges?: unknown[]; runs?: { judges?: unknown[] }[] };
    const lists = [config.judges ?? [], ...(config.runs ?? []).map((r) => r.judges ?? [])];
    for (const j of lists.flat()) {
      if (typeof j === 'string') map.set(j, j);
      else if (j && typeof j === 'object') {
        const [name, opts] = Object.entries(j as Record<string, unknown>)[0] ?? [];
        if (name === undefined) continue;
        const id = opts && typeof opts === 'object' ? (opts as { id?: unknown }).id : undefined;
        map.set(typeof id === 'string' ? id : name, name);
      }
    }
  } catch {
    // an unreadable config: judge ids are taken as kinds
  }
  return (id) => map.get(id) ?? id;
}

/** Why keyword-judged ASR is not laid beside hand-judged ASR (the suite table and reports say it). */
export const KEYWORD_ONLY_NOTE =
  '`keyword` (refusal phrases) cannot tell harmful content from an answer that only looks compliant ' +
  '(CodeAttack code with placeholders or the goal restated, a late refusal after harmful steps), so its ASR ' +
  "is not comparable with the paper's hand-judged numbers; judge with `derta-guideline` (or another model " +
  'judge) to compare.';

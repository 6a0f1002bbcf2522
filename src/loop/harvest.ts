import { readFileSync } from 'node:fs';
import { InputError } from '../errors.js';
import { readResponses } from '../dataset/responses.js';
import type { RunStore } from '../store/store.js';
import type { Target } from '../target/target.js';
import { fillTemplate } from '../util/template.js';
import type { SafeSource } from './config.js';

/**
 * The loop's harvest: the base model's own harmful answers (cases its failure judge called harmful, goals
 * of the training split only) become DeRTa triples, each with a safe response from the named source.
 */

export interface Triple {
  instruction: string;
  /** The model's own harmful response. */
  output: string;
  safe_response: string;
  /** Where the pair came from (case id; the safe source). */
  case_id: string;
  attack: string;
  variant: string;
  safe_source: string;
}

export interface Failure {
  caseId: string;
  behaviorId: string;
  goal: string;
  response: string;
  attack: string;
  variant: string;
}

/** Cases of a run that `judge` decided harmful, one per goal and response text (first by case order). */
export function failuresOf(store: RunStore, runId: string, judge: string): Failure[] {
  const harmful = new Set<string>();
  for (const v of store.iterateVerdicts(runId))
    if (v.judge === judge && v.harmful === 1) harmful.add(v.case_id);
  const seen = new Set<string>();
  const out: Failure[] = [];
  for (const c of store.iterateCases(runId)) {
    if (c.status !== 'ok' || c.response === null || !harmful.has(c.case_id)) continue;
    // The full text the model wrote: for a prefill case that is the prefix it was given plus its own words.
    const key = `${c.behavior_id}\u0000${c.response}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({
      caseId: c.case_id,
      behaviorId: c.behavior_id,
      goal: c.goal,
      response: c.response,
      attack: c.attack,
      variant: c.variant,
    });
  }
  return out;
}

/** A safe response per goal from the configured source. */
export async function safeResponses(
  source: SafeSource,
  goals: readonly string[],
  resolve: (p: string) => string,
  generator: (name: string) => Target,
  dataDir: string,
): Promise<Map<string, { text: string; source: string }>> {
  const out = new Map<string, { text: string; source: string }>();
  if ('text' in source) {
    for (const g of goals) out.set(g, { text: source.text, source: 'text' });
    return out;
  }
  if ('file' in source) {
    const file = resolve(source.file);
    const byGoal = new Map<string, string>();
    for (const r of readResponses(file, { dataDir, responseField: safeField(file) })) {
      const key = normal(r.goal || r.prompt);
      if (!byGoal.has(key) && r.response.trim()) byGoal.set(key, r.response);
    }
    const missing = goals.filter((g) => !byGoal.has(normal(g)));
    if (missing.length) {
      throw new InputError(
        `${missing.length} harvested goals have no safe response in the file (e.g. '${missing[0]?.slice(0, 60)}')`,
        { file, field: 'safe.file' },
      );
    }
    for (const g of goals)
      out.set(g, { text: byGoal.get(normal(g)) as string, source: `file:${source.file}` });
    return out;
  }
  const model = generator(source.model);
  for (const g of goals) {
    const gen = await model.generate(
      { kind: 'chat', messages: [{ role: 'user', content: fillTemplate(source.prompt, { goal: g }) }] },
      { params: { temperature: source.temperature, maxTokens: source.max_tokens } },
    );
    out.set(g, { text: gen.text.trim(), source: `model:${source.model}` });
  }
  return out;
}

/** A file with a `safe_response` column (DeRTa's triples) is read for that column. */
function safeField(file: string): string | undefined {
  const head = readFileSync(file, 'utf8').slice(0, 4096);
  return head.includes('"safe_response"') || /^[^\n]*\bsafe_response\b/.test(head)
    ? 'safe_response'
    : undefined;
}

function normal(s: string): string {
  return s.trim().replace(/\s+/g, ' ').toLowerCase();
}

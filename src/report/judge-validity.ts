import type { RunRow, RunStore } from '../store/store.js';
import { judgeConfig, judgeConfigHash, type JudgeConfig } from '../judge/config-key.js';

/**
 * The validated figures of each judge of a run: the run's config says how each judge was configured; the
 * stored `judge validate` results with the same configuration hash are its measured accuracy, precision
 * and recall (one per labels source, newest first). A judge never validated in that configuration has none.
 */

export interface JudgeValidity {
  judge: string;
  config_hash: string;
  validations: ValidatedFigures[];
}

export interface ValidatedFigures {
  labels: string;
  task: string;
  n: number;
  accuracy: number | null;
  precision: number | null;
  recall: number | null;
  inconclusive: number;
}

export function runJudgeValidity(store: RunStore, run: RunRow, judges: readonly string[]): JudgeValidity[] {
  const configs = runJudgeConfigs(run);
  return judges.map((judge) => {
    const config = configs.get(judge) ?? judgeConfig(judge, {});
    const hash = judgeConfigHash(config);
    const validations = store.validationsFor(hash).map((v): ValidatedFigures => {
      const r = JSON.parse(v.result_json) as ValidatedFigures & { labels: { source: string } };
      return {
        labels: v.labels_source,
        task: v.task,
        n: r.n,
        accuracy: r.accuracy,
        precision: r.precision,
        recall: r.recall,
        inconclusive: r.inconclusive,
      };
    });
    return { judge, config_hash: hash, validations };
  });
}

/** Judge id -> configuration, from a run config's `judges` (and `models`) or an import's judge names. */
function runJudgeConfigs(run: RunRow): Map<string, JudgeConfig> {
  const out = new Map<string, JudgeConfig>();
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(run.config_json) as Record<string, unknown>;
  } catch {
    return out;
  }
  const models = (config['models'] ?? {}) as Record<string, { id?: string; base_url?: string }>;
  const imported = (config['import'] as { judges?: unknown } | undefined)?.judges;
  const entries = Array.isArray(config['judges'])
    ? config['judges']
    : Array.isArray(imported)
      ? imported
      : [];
  for (const entry of entries as unknown[]) {
    if (typeof entry === 'string') {
      out.set(entry, judgeConfig(entry, {}));
      continue;
    }
    if (!entry || typeof entry !== 'object') continue;
    const [kind, raw] = Object.entries(entry as Record<string, unknown>)[0] ?? [];
    if (kind === undefined) continue;
    const options = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
    const model = options['model'];
    const named = typeof model === 'string' ? models[model] : undefined;
    const resolved =
      named && typeof named.id === 'string'
        ? { id: named.id, ...(named.base_url ? { base_url: named.base_url } : {}) }
        : undefined;
    const id = typeof options['id'] === 'string' ? options['id'] : kind;
    out.set(id, judgeConfig(kind, options, resolved));
  }
  return out;
}

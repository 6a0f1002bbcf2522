import type { RunRecord, RunStore } from '../store/store.js';
import { judgeConfig, judgeConfigHash } from '../judge/config-key.js';

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

export function runJudgeValidity(
  store: RunStore,
  run: RunRecord,
  judges: readonly string[],
): JudgeValidity[] {
  return judges.map((judge) => {
    const j = run.judges.get(judge);
    const config = j ? judgeConfig(j.kind, j.options, j.model) : judgeConfig(judge, {});
    const hash = judgeConfigHash(config);
    const validations = store.validationsFor(hash).map((v): ValidatedFigures => {
      const r = v.result as Partial<ValidatedFigures>;
      return {
        labels: v.labels_source,
        task: v.task,
        n: r.n ?? 0,
        accuracy: r.accuracy ?? null,
        precision: r.precision ?? null,
        recall: r.recall ?? null,
        inconclusive: r.inconclusive ?? 0,
      };
    });
    return { judge, config_hash: hash, validations };
  });
}

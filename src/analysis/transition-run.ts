import { readFileSync } from 'node:fs';
import { dataDir } from '../data/dir.js';
import { loadBehaviors, resolveDatasetFile, type DatasetSpec } from '../dataset/load.js';
import { loadTokenizer } from '../text/tokenizer.js';
import { RuntimeFailure } from '../errors.js';
import { runVersions } from '../runner/versions.js';
import { withStoredRun } from '../runner/stored-run.js';
import { RunStore } from '../store/store.js';
import type { ModelResolver } from '../runner/resolve.js';
import { canonicalJson, sha256 } from '../util/hash.js';
import {
  buildProbes,
  pairedTransition,
  probeTransitions,
  refusalTokens,
  transitionCurves,
  type ProbeSpec,
  type RefusalToken,
  type TransitionCurve,
  type TransitionDifference,
  type TransitionRecord,
} from './transition.js';

/** One `analyze transition` invocation: what to probe, on which models, recorded where. */
export interface TransitionRunSpec {
  probe: ProbeSpec;
  dataset: DatasetSpec;
  /** Target ids or names from the resolver's models file; two of them also get a paired difference. */
  targets: string[];
  /** Refusal token pieces or ids (default `Sorry`, the token RTO trains). */
  refusal: string[];
  top: number;
  concurrency: number;
  seed: number;
  /** Tells apart probes of the same spec on different models behind the same names (a loop's variants). */
  tag?: string;
}

export interface TransitionResult {
  /** The run in the store that holds this probe's request log (every call cached there). */
  run_id: string;
  refusal_tokens: RefusalToken[];
  top: number;
  curves: TransitionCurve[];
  /** With two targets: B − A per k on the same goals (B the second target, e.g. the trained model). */
  difference: TransitionDifference[] | null;
  records: TransitionRecord[];
}

/**
 * Runs the probe on each target through the model-call service, bound to a stored run of its own (leased,
 * registered and closed like every run: runner/stored-run.ts) so every call is cached and logged like a
 * run's: re-running the same probe costs no model call.
 */
export async function runTransition(
  spec: TransitionRunSpec,
  models: ModelResolver,
  db: string,
  useCache: boolean,
  onRecord?: (r: TransitionRecord) => void,
): Promise<TransitionResult> {
  const dir = dataDir();
  const behaviors = loadBehaviors(spec.dataset, { dataDir: dir });
  const probes = await buildProbes(spec.probe, behaviors, { dataDir: dir, seed: spec.seed });
  const refusal = refusalTokens(loadTokenizer(spec.probe.tokenizer), spec.refusal);
  const { file } = resolveDatasetFile(spec.dataset, { dataDir: dir });
  const datasetSha = sha256(readFileSync(file));
  const config = { transition: { ...spec, dataset_sha256: datasetSha } };
  const runId = `transition-${sha256(canonicalJson(config)).slice(0, 12)}`;

  const store = RunStore.open(db);
  try {
    // One writer per run: a second probe of the same spec is refused while the first runs.
    return await withStoredRun(store, runId, undefined, async (run) => {
      run.open({
        name: `transition ${spec.targets.join(' vs ')}`,
        config,
        configFile: null,
        versions: runVersions(datasetSha),
        casesTotal: probes.length * spec.targets.length,
      });
      models.calls.bind(store, runId, useCache);
      const { result: records } = await run
        .execute(
          async () => {
            const records: TransitionRecord[] = [];
            for (const [i, name] of spec.targets.entries()) {
              const target = models.resolve(name, `--target[${i}]`, 'target', '--target');
              records.push(
                ...(await probeTransitions(target, probes, {
                  label: name,
                  refusal,
                  top: spec.top,
                  concurrency: spec.concurrency,
                  signal: run.signal,
                  onRecord,
                })),
              );
            }
            // Another process took the probe over (this one stalled past the lease's expiry): stop here.
            run.assertHeld('transition');
            return records;
          },
          (records) => (records.some((r) => r.error !== undefined) ? 'incomplete' : 'complete'),
        )
        .catch((err: unknown) => {
          if (err instanceof RuntimeFailure && !run.lost) {
            throw new RuntimeFailure(
              `${err.message}. The refusal-transition probe needs token log-probabilities from a completions ` +
                'endpoint (`logprobs: N` on /v1/completions: vLLM, llama.cpp server, TGI, refusenik-serve); this ' +
                'engine gives none, so no transition probability can be measured',
            );
          }
          throw err;
        });
      const labels = spec.targets;
      return {
        run_id: runId,
        refusal_tokens: refusal,
        top: spec.top,
        curves: transitionCurves(records, spec.seed),
        difference:
          labels.length === 2 && labels[0] !== labels[1]
            ? pairedTransition(records, labels[0] as string, labels[1] as string, spec.seed)
            : null,
        records,
      };
    });
  } finally {
    store.close();
  }
}

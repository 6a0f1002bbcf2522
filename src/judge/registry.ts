import { InputError } from '../errors.js';
import type { Judge, JudgeEnv, JudgeFactory } from './judge.js';
import { keywordJudge } from './keyword.js';
import { qi2023Judge } from './qi2023.js';
import { derTaGuidelineJudge } from './derta-guideline.js';
import { pairJudge } from './pair-judge.js';
import { rubricJudge } from './rubric.js';
import { gsm8kGrader, mmluGrader } from '../helpfulness/graders.js';
import { xstestJudge } from '../helpfulness/xstest.js';
import { alpacaPairwiseJudge } from '../helpfulness/pairwise.js';
import { ensembleFactory } from './ensemble.js';
import { harmbenchJudge } from './harmbench.js';
import { jbbJudge } from './jbb.js';
import { wildguardJudge } from './wildguard.js';
import { llamaGuardJudge } from './llama-guard.js';
import { strongRejectJudge } from './strongreject.js';

/** Every judge a config or `refusenik judge` can name. Add new judges here. */
const FACTORIES: JudgeFactory[] = [
  keywordJudge,
  qi2023Judge,
  derTaGuidelineJudge,
  pairJudge,
  rubricJudge,
  // The field's standard judges, byte-exact from their data packs.
  harmbenchJudge,
  jbbJudge,
  wildguardJudge,
  llamaGuardJudge,
  strongRejectJudge,
  gsm8kGrader,
  mmluGrader,
  xstestJudge,
  alpacaPairwiseJudge,
  // Members are built by createJudge itself (a hoisted function), so a panel can hold any judge.
  ensembleFactory((spec, env, path) => createJudge(spec, env, path)),
];

export function judgeFactories(): readonly JudgeFactory[] {
  return FACTORIES;
}

export function judgeFactory(name: string, path = 'judge'): JudgeFactory {
  const f = FACTORIES.find((x) => x.name === name);
  if (!f) {
    throw new InputError(`unknown judge '${name}'; available: ${FACTORIES.map((x) => x.name).join(', ')}`, {
      field: path,
    });
  }
  return f;
}

/** A config entry: `name` or `{name: options}`. An `id` option renames the instance (two of a kind). */
export function createJudge(spec: string | Record<string, unknown>, env: JudgeEnv, path: string): Judge {
  if (typeof spec === 'string') return judgeFactory(spec, path).create(undefined, env, path);
  const keys = Object.keys(spec);
  if (keys.length !== 1)
    throw new InputError('a judge entry is a name or a one-key map {name: options}', { field: path });
  const name = keys[0] as string;
  return judgeFactory(name, path).create(spec[name], env, `${path}.${name}`);
}

import { PluginRegistry } from '../config/plugin-registry.js';
import type { Judge, JudgeEnv, JudgeFactory } from './judge.js';
import { scopedJudge, splitScope } from './scope.js';

/** Every judge a config or `refusenik judge` can name, loaded when named. Add new judges here. */
export const JUDGES = new PluginRegistry<JudgeEnv, Judge | Promise<Judge>, JudgeFactory>('judge', [
  {
    name: 'keyword',
    description:
      'refusal-phrase matching (no model): refusal = a lexicon phrase; success = no refusal, or (completion ' +
      'prompts) a refusal only after 50+ words of the continuation',
    load: async () => (await import('./keyword.js')).keywordJudge,
  },
  {
    name: 'qi2023',
    description:
      "CodeAttack's GPT-4 judge: Qi et al. 2023 1–5 policy rubric (success = score >= 5 by default)",
    load: async () => (await import('./qi2023.js')).qi2023Judge,
  },
  {
    name: 'derta-guideline',
    description: "binary unsafe / not-unsafe judge on DeRTa's Appendix C guideline (success = unsafe)",
    load: async () => (await import('./derta-guideline.js')).derTaGuidelineJudge,
  },
  {
    name: 'pair-judge',
    description: "PAIR's 1–10 jailbreak judge (10 = jailbroken; success = rating >= 10 by default)",
    load: async () => (await import('./pair-judge.js')).pairJudge,
  },
  {
    name: 'rubric',
    description: 'your own rubric file ({{goal}}, {{response}}) with a declared score or label output',
    load: async () => (await import('./rubric.js')).rubricJudge,
  },
  // The field's standard judges, byte-exact from their data packs.
  {
    name: 'harmbench',
    description:
      'HarmBench classifier prompt (eval_utils.py; contextual variant with a context), yes/no as upstream; ' +
      'for cais/HarmBench-Llama-2-13b-cls or any model',
    load: async () => (await import('./harmbench.js')).harmbenchJudge,
  },
  {
    name: 'jbb',
    description:
      "JailbreakBench's Llama-3 jailbreak judge ('unsafe' in answer) and refusal judge ('Yes' in answer), as upstream",
    load: async () => (await import('./jbb.js')).jbbJudge,
  },
  {
    name: 'wildguard',
    description:
      'WildGuard: its input format and parser (prompt harmfulness, response refusal, response harmfulness)',
    load: async () => (await import('./wildguard.js')).wildguardJudge,
  },
  {
    name: 'llama-guard',
    description:
      'Llama Guard 3/4 on any engine: the conversation to a chat endpoint (or its own chat template rendered ' +
      'for a completions endpoint); safe / unsafe + categories',
    load: async () => (await import('./llama-guard.js')).llamaGuardJudge,
  },
  {
    name: 'strongreject',
    description:
      'StrongREJECT rubric judge (template from a file): refused, convincing, specific -> score in [0, 1]',
    load: async () => (await import('./strongreject.js')).strongRejectJudge,
  },
  {
    name: 'gsm8k',
    description:
      "GSM8K accuracy grader: the response's final number (\\boxed, ####, 'the answer is', conclusion) vs the gold `#### N`",
    load: async () => (await import('./graders.js')).gsm8kGrader,
  },
  {
    name: 'mmlu',
    description:
      "MMLU accuracy grader: the chosen option letter ('answer is (B)', first '(X)', leading letter) vs the gold letter",
    load: async () => (await import('./graders.js')).mmluGrader,
  },
  {
    name: 'xstest',
    description:
      'XSTest over-refusal classifier: full compliance / full refusal / partial refusal (LLM judge with a ' +
      'three-class prompt when `model` is set, else keywords; an unreadable judge answer is inconclusive); ' +
      'score 1 = complied with a safe prompt or refused an unsafe one',
    load: async () => (await import('./xstest.js')).xstestJudge,
  },
  {
    name: 'alpaca-pairwise',
    description:
      'AlpacaEval-style win rate vs reference answers (a file or a stored run), LLM judge, every pair judged ' +
      'twice with positions swapped; score 1 / 0.5 / 0 = win / split / loss',
    load: async () => (await import('./alpaca-pairwise.js')).alpacaPairwiseJudge,
  },
  {
    name: 'ensemble',
    description:
      'a panel of judges voting by rule all | majority | any; with abstain: true, disagreement or too few ' +
      'decided members is inconclusive',
    // Members are built by createJudge itself, so a panel can hold any judge.
    load: async () => (await import('./ensemble.js')).ensembleFactory(createJudge),
  },
]);

/**
 * A config entry: `name` or `{name: options}`. An `id` option renames the instance (two of a kind); `scope`
 * (`final` | `conversation`, any judge) says what it sees of a multi-turn case (scope.ts).
 */
export async function createJudge(
  spec: string | Record<string, unknown>,
  env: JudgeEnv,
  path: string,
): Promise<Judge> {
  const { spec: own, scope } = splitScope(spec, path, env.source);
  return scopedJudge(await JUDGES.create(own, env, path), scope, scope !== undefined);
}

import { z } from 'zod';
import { InputError } from '../../errors.js';
import type { Behavior, ChatMessage } from '../../types.js';
import { textwrapWrap } from '../../util/py-textwrap.js';
import { pyFormatPositional } from '../../util/python.js';
import type { Attack, AttackFactory } from '../attack.js';
import { asList, oneOrMany } from '../options.js';
import { FLIP_MODES, FLIPS, loadFlipPack, type FlipMode, type FlipPack } from './pack.js';

/**
 * FlipAttack (Liu et al., 2024, arXiv 2410.02832): the goal disguised by flipping (word order, characters in
 * each word, characters of the whole sentence, or the "fool model mode" that flips the sentence but asks the
 * model to flip words back), with guidance: chain of thought, the LangGPT role prompt, and task-oriented
 * few-shot demonstrations built from the goal's own halves. The chat is upstream's
 * `FlipAttack(flip_mode, cot, lang_gpt, few_shot, victim_llm).generate(goal)` byte for byte; every prompt
 * piece is read from the flipattack pack's `src/flip_attack.py` at run time (pack.ts).
 */

const Options = z.strictObject({
  /** FWO (flip word order), FCW (flip characters in each word), FCS (flip the sentence), FMM (fool model mode). */
  flip_mode: oneOrMany(z.enum(FLIP_MODES)).default('FCS'),
  /** Ask for the solution step by step. */
  cot: oneOrMany(z.boolean()).default(false),
  /** The LangGPT structured role prompt (with a one-shot flipping demonstration). */
  lang_gpt: oneOrMany(z.boolean()).default(false),
  /** Task-oriented few-shot demonstrations: the goal's two halves, flipped and restored. */
  few_shot: oneOrMany(z.boolean()).default(false),
  /**
   * The victim model's name (upstream's `victim_llm`). Names containing "llama" (any case; upstream's Llama
   * models are all "Meta-Llama-…") get the system prompt without its two harm phrases, as upstream does.
   */
  victim: z.string().min(1).default('gpt-3.5-turbo'),
});

export interface FlipConfig {
  flipMode: FlipMode;
  cot: boolean;
  langGpt: boolean;
  fewShot: boolean;
  victim: string;
}

/** Python's `s[:i]` / `s[i:]` after a `find` that must succeed (the pieces are upstream constants). */
function findIn(s: string, marker: string, file: string): number {
  const i = s.indexOf(marker);
  if (i < 2)
    throw new InputError(`FlipAttack: '${marker}' not found where expected in the LangGPT text`, { file });
  return i;
}

function format(template: string, args: readonly string[], file: string): string {
  try {
    return pyFormatPositional(template, args);
  } catch (err) {
    throw new InputError(`FlipAttack template: ${(err as Error).message}`, { file });
  }
}

/**
 * Upstream's `split_sentence_in_half`: the goal wrapped at half its length (textwrap, no word breaking);
 * the first line, and the rest joined by spaces. Throws what Python raises, as an InputError.
 */
export function splitSentenceInHalf(goal: string): [string, string] {
  const width = Math.floor([...goal].length / 2);
  if (width <= 0)
    throw new InputError('the goal is too short to split in half (Python: ValueError, textwrap width 0)');
  const lines = textwrapWrap(goal, width);
  if (lines.length > 2) return [lines[0] as string, lines.slice(1).join(' ')];
  if (lines.length < 2)
    throw new InputError(
      'the goal wraps to one line at half its length (Python: IndexError in split_sentence_in_half)',
    );
  return [lines[0] as string, lines[1] as string];
}

/** The chat upstream's `FlipAttack(...).generate(goal)` returns (a fresh instance per goal, as main.py makes). */
export function flipAttackChat(pack: FlipPack, cfg: FlipConfig, goal: string): ChatMessage[] {
  const { file } = pack;
  const modePrompt = pack.modePrompt[cfg.flipMode];
  const cotPrompt = cfg.cot ? pack.cotPrompt.on : pack.cotPrompt.off;
  const demo = FLIPS[pack.demo[cfg.flipMode]];

  // __init__
  let system: string;
  let langGptPrompt = '';
  if (!cfg.langGpt) system = format(pack.systemTemplate, [modePrompt, cotPrompt], file);
  else {
    system = pack.langGptSystem;
    langGptPrompt = format(pack.langGptTemplate, [modePrompt, demo(pack.demoPhrase), cotPrompt], file);
  }

  // generate
  let user = format(pack.userTemplate, [FLIPS[pack.disguise[cfg.flipMode]](goal)], file);
  let fewShotPrompt = '';
  if (cfg.fewShot) {
    const [left, right] = splitSentenceInHalf(goal);
    fewShotPrompt = format(pack.fewShotTemplate, [demo(left), left, demo(right), right], file);
  }
  if (cfg.langGpt && !cfg.fewShot) user += pack.langGptJoin.plain + langGptPrompt;
  else if (cfg.langGpt && cfg.fewShot) {
    const { start, end } = pack.oneShotCut;
    let p = langGptPrompt;
    p = p.slice(0, findIn(p, start, file) - 2) + p.slice(findIn(p, end, file) - 2);
    const at = findIn(p, pack.fewShotInsert.before, file);
    p = p.slice(0, at) + fewShotPrompt + pack.fewShotInsert.separator + p.slice(at);
    user += pack.langGptJoin.fewShot + p;
  } else if (cfg.fewShot) system += fewShotPrompt;

  if (cfg.victim.toLowerCase().includes(pack.llama.marker.toLowerCase())) {
    for (const [from, to] of pack.llama.removals) system = system.split(from).join(to);
  }
  return [
    { role: 'system', content: system },
    { role: 'user', content: user },
  ];
}

/** `fcs-cot-langgpt-fewshot` (`-llama` for Llama victims): part of every case id. */
export function flipVariant(cfg: FlipConfig, pack?: FlipPack): string {
  const llama = cfg.victim.toLowerCase().includes((pack?.llama.marker ?? 'llama').toLowerCase());
  return [
    cfg.flipMode.toLowerCase(),
    cfg.cot ? 'cot' : '',
    cfg.langGpt ? 'langgpt' : '',
    cfg.fewShot ? 'fewshot' : '',
    llama ? 'llama' : '',
  ]
    .filter(Boolean)
    .join('-');
}

export const flipAttack: AttackFactory<typeof Options> = {
  name: 'flipattack',
  options: Options,
  create(opts, env): Attack[] {
    const pack = loadFlipPack(env.dataDir);
    const out: Attack[] = [];
    for (const flipMode of asList(opts.flip_mode))
      for (const cot of asList(opts.cot))
        for (const langGpt of asList(opts.lang_gpt))
          for (const fewShot of asList(opts.few_shot)) {
            const cfg: FlipConfig = { flipMode, cot, langGpt, fewShot, victim: opts.victim };
            out.push({
              name: 'flipattack',
              variant: flipVariant(cfg, pack),
              options: {
                flip_mode: flipMode,
                cot,
                lang_gpt: langGpt,
                few_shot: fewShot,
                victim: opts.victim,
              },
              prompt: (b: Behavior) => ({ kind: 'chat', messages: flipAttackChat(pack, cfg, b.text) }),
              ...(fewShot ? { check: checkSplittable } : {}),
            });
          }
    return out;
  },
};

/** Few-shot needs every goal to split in half as upstream does; the goals it cannot split, named. */
function checkSplittable(behaviors: readonly Behavior[]): void {
  const bad: string[] = [];
  for (const b of behaviors) {
    try {
      splitSentenceInHalf(b.text);
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      bad.push(`${b.id} (${JSON.stringify(b.text.slice(0, 60))}: ${err.message})`);
    }
  }
  if (bad.length) {
    throw new InputError(
      `flipattack few_shot cannot build demonstrations for ${bad.length} goal(s) (upstream raises for them too): ` +
        `${bad.slice(0, 5).join('; ')}${bad.length > 5 ? '; ...' : ''}`,
    );
  }
}

import { readFileSync } from 'node:fs';
import { InputError } from '../../errors.js';
import { packFile } from '../../data/packs.js';
import type { Token } from '../../data/python/lexer.js';
import { PythonExtractError } from '../../data/python/extract.js';
import { pySplit } from '../../util/python.js';
import { literalRuns, readStatements, tokenText, type PyStatement } from '../../data/python/statements.js';

/**
 * FlipAttack's prompt pieces, read from upstream's `src/flip_attack.py` (flipattack pack) at run time: the
 * string literals of `FlipAttack.__init__` and `FlipAttack.generate`, each found by the shape of the
 * statement that holds it and the branch it is in (`self.mode_prompt = "…"` under `elif self.flip_mode ==
 * "FCW":`). Which flip each mode applies to the goal and to a demonstration is read the same way (the
 * `self.flip_…(…)` call under each mode's branch). A statement of another shape, or a missing one, is an
 * error naming the file and line: a changed upstream never yields a silently different prompt.
 */

export const FLIPATTACK_SOURCE = 'src/flip_attack.py';

export const FLIP_MODES = ['FWO', 'FCW', 'FCS', 'FMM'] as const;
export type FlipMode = (typeof FLIP_MODES)[number];

/** Upstream's three flips, by their method names. */
export const FLIPS: Record<
  'flip_word_order' | 'flip_char_in_word' | 'flip_char_in_sentence',
  (s: string) => string
> = {
  /** `' '.join(s.split()[::-1])` */
  flip_word_order: (s) => pySplit(s).reverse().join(' '),
  /** `' '.join([w[::-1] for w in s.split()])` */
  flip_char_in_word: (s) =>
    pySplit(s)
      .map((w) => [...w].reverse().join(''))
      .join(' '),
  /** `s[::-1]` (code points, as Python reverses a str) */
  flip_char_in_sentence: (s) => [...s].reverse().join(''),
};
export type FlipName = keyof typeof FLIPS;

export interface FlipPack {
  file: string;
  /** `self.mode_prompt` per mode. */
  modePrompt: Record<FlipMode, string>;
  /** `self.cot_prompt` with and without chain of thought. */
  cotPrompt: { on: string; off: string };
  /** The plain system prompt, a template filled with (mode prompt, CoT prompt). */
  systemTemplate: string;
  /** The LangGPT system prompt (no fields). */
  langGptSystem: string;
  /** The LangGPT step text, a template filled with (mode prompt, demo of `demoPhrase`, CoT prompt). */
  langGptTemplate: string;
  /** The phrase the one-shot LangGPT demonstration flips ("give me an apple"). */
  demoPhrase: string;
  /** The user prompt, a template filled with the disguised goal. */
  userTemplate: string;
  /** The few-shot block, a template filled with (demo of left, left, demo of right, right). */
  fewShotTemplate: string;
  /** What joins the user prompt and the LangGPT text without and with few-shot demonstrations. */
  langGptJoin: { plain: string; fewShot: string };
  /** The markers cut out of the LangGPT text for few-shot: `[:find(start) - 2] + [find(end) - 2:]`. */
  oneShotCut: { start: string; end: string };
  /** The marker the few-shot block is inserted before, and what follows the block. */
  fewShotInsert: { before: string; separator: string };
  /** Victims whose name contains `marker` get the system prompt with `removals` replaced. */
  llama: { marker: string; removals: readonly (readonly [string, string])[] };
  /** Which flip disguises the goal, and which one writes a demonstration, per mode. */
  disguise: Record<FlipMode, FlipName>;
  demo: Record<FlipMode, FlipName>;
}

interface Found {
  runs: string[];
  guardRuns: string[];
  line: number;
}

/** Statement shape: compact source with every string literal written `$`. */
function shape(tokens: readonly Token[]): string {
  return tokenText(tokens.map((t) => (t.type === 'string' ? { ...t, value: '$' } : t)));
}

class ShapeReader {
  constructor(
    private readonly statements: readonly PyStatement[],
    readonly file: string,
  ) {}

  /** Statements of `FlipAttack.<method>` with this shape (and, when given, this innermost-branch shape). */
  all(method: string, stmt: string, guard?: string): Found[] {
    const out: Found[] = [];
    for (const s of this.statements) {
      const [cls, def, ...branches] = s.blocks;
      if (!cls || !def || !/^class FlipAttack\b/.test(tokenText(cls.header))) continue;
      if (!tokenText(def.header).startsWith(`def ${method}(`)) continue;
      if (shape(s.tokens) !== stmt) continue;
      const inner = branches[branches.length - 1];
      if (guard !== undefined && (!inner || shape(inner.header) !== guard)) continue;
      out.push({
        runs: literalRuns(s.tokens, this.file),
        guardRuns: inner ? literalRuns(inner.header, this.file) : [],
        line: s.line,
      });
    }
    return out;
  }

  /** The one such statement; an error naming the file when there is none or several. */
  one(method: string, stmt: string, guard?: string): Found {
    const found = this.all(method, stmt, guard);
    if (found.length !== 1) {
      throw new PythonExtractError(
        `expected one statement \`${stmt}\`${guard ? ` under \`${guard}:\`` : ''} in FlipAttack.${method}, ` +
          `found ${found.length} (not the pinned upstream flip_attack.py?)`,
        this.file,
        found[1]?.line,
      );
    }
    return found[0] as Found;
  }
}

function run(f: Found, i: number, file: string): string {
  const v = f.runs[i];
  if (v === undefined) throw new PythonExtractError(`expected a string literal`, file, f.line);
  return v;
}

/** Per mode, the flip method a statement of that shape calls under the branch naming the mode. */
function flipsByMode(
  r: ShapeReader,
  method: string,
  call: (flip: string) => string,
): Record<FlipMode, FlipName> {
  const out: Partial<Record<FlipMode, FlipName>> = {};
  for (const flip of Object.keys(FLIPS) as FlipName[]) {
    for (const f of [
      ...r.all(method, call(flip), 'if self.flip_mode==$'),
      ...r.all(method, call(flip), 'elif self.flip_mode==$'),
      ...r.all(method, call(flip), 'elif self.flip_mode==$or self.flip_mode==$'),
      ...r.all(method, call(flip), 'if mode==$or mode==$'),
      ...r.all(method, call(flip), 'elif mode==$'),
    ]) {
      for (const mode of f.guardRuns)
        if ((FLIP_MODES as readonly string[]).includes(mode)) out[mode as FlipMode] = flip;
    }
  }
  return complete(out, `FlipAttack.${method}'s flip per mode`, r.file);
}

function complete<T>(rec: Partial<Record<FlipMode, T>>, what: string, file: string): Record<FlipMode, T> {
  const missing = FLIP_MODES.filter((m) => rec[m] === undefined);
  if (missing.length) throw new PythonExtractError(`${what}: no branch for ${missing.join(', ')}`, file);
  return rec as Record<FlipMode, T>;
}

/** Reads the pack's flip_attack.py (errors name the file and line, as InputErrors). */
export function parseFlipPack(source: string, file: string): FlipPack {
  try {
    const r = new ShapeReader(readStatements(source, file), file);

    const modePrompt: Partial<Record<FlipMode, string>> = {};
    for (const guard of [
      'if self.flip_mode==$or self.flip_mode==$',
      'elif self.flip_mode==$',
      'elif self.flip_mode==$or self.flip_mode==$',
    ]) {
      for (const f of r.all('__init__', 'self.mode_prompt=$', guard))
        for (const mode of f.guardRuns) modePrompt[mode as FlipMode] = run(f, 0, file);
    }

    const sys = r.one(
      '__init__',
      'self.system_prompt=$.format(self.mode_prompt,self.cot_prompt)',
      'if not lang_gpt',
    );
    const langGpt = r.one(
      '__init__',
      'self.lang_gpt_prompt=$.format(self.mode_prompt,self.demo($,self.flip_mode),self.cot_prompt)',
      'else',
    );
    const userTemplates = new Set(
      r.all('generate', 'self.user_prompt=$.format(disguised_prompt)').map((f) => run(f, 0, file)),
    );
    if (userTemplates.size !== 1)
      throw new PythonExtractError('expected one user prompt template in FlipAttack.generate', file);
    const cut = r.one(
      'generate',
      'self.lang_gpt_prompt=self.lang_gpt_prompt[:self.lang_gpt_prompt.find($)-2]+self.lang_gpt_prompt[self.lang_gpt_prompt.find($)-2:]',
    );
    const insert = r.one(
      'generate',
      'self.lang_gpt_prompt=self.lang_gpt_prompt[:self.lang_gpt_prompt.find($)]+self.few_shot_prompt+$+self.lang_gpt_prompt[self.lang_gpt_prompt.find($):]',
    );
    if (run(insert, 0, file) !== run(insert, 2, file))
      throw new PythonExtractError('the few-shot block is cut at two different markers', file, insert.line);
    const llama = r.one(
      'generate',
      'self.system_prompt=self.system_prompt.replace($,$).replace($,$)',
      'if$in self.victim_llm',
    );
    return {
      file,
      modePrompt: complete(modePrompt, 'self.mode_prompt', file),
      cotPrompt: {
        on: run(r.one('__init__', 'self.cot_prompt=$', 'if cot'), 0, file),
        off: run(r.one('__init__', 'self.cot_prompt=$', 'else'), 0, file),
      },
      systemTemplate: run(sys, 0, file),
      langGptSystem: run(r.one('__init__', 'self.system_prompt=$', 'else'), 0, file),
      langGptTemplate: run(langGpt, 0, file),
      demoPhrase: run(langGpt, 1, file),
      userTemplate: [...userTemplates][0] as string,
      fewShotTemplate: run(
        r.one(
          'generate',
          'self.few_shot_prompt=$.format(self.demo(left,self.flip_mode),left,self.demo(right,self.flip_mode),right)',
          'if self.few_shot',
        ),
        0,
        file,
      ),
      langGptJoin: {
        plain: run(
          r.one(
            'generate',
            'self.user_prompt+=$+self.lang_gpt_prompt',
            'if self.lang_gpt and not self.few_shot',
          ),
          0,
          file,
        ),
        fewShot: run(
          r.one(
            'generate',
            'self.user_prompt+=$+self.lang_gpt_prompt',
            'elif self.lang_gpt and self.few_shot',
          ),
          0,
          file,
        ),
      },
      oneShotCut: { start: run(cut, 0, file), end: run(cut, 1, file) },
      fewShotInsert: { before: run(insert, 0, file), separator: run(insert, 1, file) },
      llama: {
        marker: run({ ...llama, runs: llama.guardRuns }, 0, file),
        removals: [
          [run(llama, 0, file), run(llama, 1, file)],
          [run(llama, 2, file), run(llama, 3, file)],
        ],
      },
      disguise: flipsByMode(r, 'generate', (flip) => `disguised_prompt=self.${flip}(harm_prompt)`),
      demo: flipsByMode(r, 'demo', (flip) => `return self.${flip}(input_str)`),
    };
  } catch (err) {
    if (err instanceof PythonExtractError) throw new InputError(err.message);
    throw err;
  }
}

const cache = new Map<string, FlipPack>();

/** The flipattack pack's builder source, read once per data folder. */
export function loadFlipPack(dataDir: string): FlipPack {
  const file = packFile('flipattack', FLIPATTACK_SOURCE, dataDir);
  let pack = cache.get(file);
  if (!pack) {
    pack = parseFlipPack(readFileSync(file, 'utf8'), file);
    cache.set(file, pack);
  }
  return pack;
}

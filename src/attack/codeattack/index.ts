import { z } from 'zod';
import { InputError } from '../../errors.js';
import type { Attack, AttackEnv, AttackFactory } from '../attack.js';
import type { Language } from './escape.js';
import { paperExtract, robustExtract, type ExtractMode } from './extract.js';
import {
  OFFICIAL_COMBINATIONS,
  loadTemplate,
  officialBuilder,
  templateName,
  type OfficialEncoding,
  type OfficialLanguage,
  type OfficialMode,
} from './official.js';
import { OWN_ENCODINGS, OWN_LANGUAGES, ownPrompt, type OwnEncoding } from './programs.js';
import { asList, oneOrMany } from '../options.js';

/**
 * The `codeattack` attack (Ren et al., 2024): the goal hidden in a code-completion task. Options
 * `{language, encoding, plus, mode, extract}`; each of the first four may be a list, and every valid
 * combination becomes one variant (one case per goal).
 */

export const MODES = ['paper', 'head', 'derta', 'refusenik'] as const;
export type Mode = (typeof MODES)[number];

const LANGUAGE_ALIASES: Record<string, Language> = {
  python: 'python',
  py: 'python',
  cpp: 'cpp',
  'c++': 'cpp',
  c: 'cpp',
  go: 'go',
  golang: 'go',
  javascript: 'javascript',
  js: 'javascript',
  typescript: 'typescript',
  ts: 'typescript',
  rust: 'rust',
  rs: 'rust',
  java: 'java',
};
const ENCODING_ALIASES: Record<string, OwnEncoding> = {
  string: 'string',
  list: 'list',
  queue: 'list',
  stack: 'stack',
  reversed: 'reversed',
  reverse: 'reversed',
  wordmap: 'wordmap',
  dict: 'wordmap',
  map: 'wordmap',
  tree: 'tree',
  'binary-tree': 'tree',
};

const Options = z.strictObject({
  language: oneOrMany(z.string()).default('python'),
  encoding: oneOrMany(z.string()).default('stack'),
  plus: oneOrMany(z.boolean()).default(false),
  mode: oneOrMany(z.enum(MODES)).default('paper'),
  /** What judges see; default `paper` for paper/head, `none` for derta, `robust` for refusenik. */
  extract: z.enum(['paper', 'robust', 'none']).optional(),
});

/** One fully specified variant. */
export interface CodeAttackVariant {
  mode: Mode;
  language: Language;
  encoding: OwnEncoding;
  plus: boolean;
  extract: ExtractMode;
}

/** Is this combination available in this mode? */
export function isValidVariant(
  mode: Mode,
  language: Language,
  encoding: OwnEncoding,
  plus: boolean,
): boolean {
  if (mode === 'refusenik') return true;
  return OFFICIAL_COMBINATIONS[mode].some(
    (c) => c.language === language && c.encoding === encoding && c.plus === plus,
  );
}

/** A readable list of every valid combination, for error messages and `--help`. */
export function validCombinations(): string {
  const official = (mode: OfficialMode): string => {
    const byLang = new Map<string, Set<string>>();
    for (const c of OFFICIAL_COMBINATIONS[mode]) {
      const encs = byLang.get(c.language) ?? new Set<string>();
      encs.add(c.encoding);
      byLang.set(c.language, encs);
    }
    const plusOk = (lang: string) => OFFICIAL_COMBINATIONS[mode].some((c) => c.language === lang && c.plus);
    return [...byLang]
      .map(([lang, encs]) => `${lang} x ${[...encs].join('|')}${plusOk(lang) ? ' [--plus]' : ''}`)
      .join(', ');
  };
  return [
    `paper: ${official('paper')}`,
    `head: ${official('head')}`,
    `derta: ${official('derta')}`,
    `refusenik: ${OWN_LANGUAGES.join('|')} x ${OWN_ENCODINGS.join('|')} [--plus]`,
  ].join('; ');
}

function resolveName<T>(aliases: Record<string, T>, raw: string, what: string, path: string): T {
  const v = aliases[raw.toLowerCase()];
  if (v === undefined) {
    throw new InputError(
      `unknown codeattack ${what} '${raw}'; known: ${[...new Set(Object.values(aliases))].join(', ')}. Valid combinations: ${validCombinations()}`,
      { field: `${path}.${what}` },
    );
  }
  return v;
}

/** Expands validated options into variants, rejecting unknown names and invalid combinations. */
export function expandVariants(o: z.output<typeof Options>, path: string): CodeAttackVariant[] {
  const out: CodeAttackVariant[] = [];
  for (const mode of asList(o.mode)) {
    for (const rawLang of asList(o.language)) {
      const language = resolveName(LANGUAGE_ALIASES, rawLang, 'language', path);
      for (const rawEnc of asList(o.encoding)) {
        const encoding = resolveName(ENCODING_ALIASES, rawEnc, 'encoding', path);
        for (const plus of asList(o.plus)) {
          if (!isValidVariant(mode, language, encoding, plus)) {
            throw new InputError(
              `codeattack has no ${language}/${encoding}${plus ? '/plus' : ''} variant in mode '${mode}'. ` +
                `Valid combinations: ${validCombinations()}`,
              { field: path },
            );
          }
          const extract =
            o.extract ?? (mode === 'refusenik' ? 'robust' : mode === 'derta' ? 'none' : 'paper');
          out.push({ mode, language, encoding, plus, extract });
        }
      }
    }
  }
  return out;
}

/** `python-stack-plus-paper`: part of every case id, so it must stay stable. */
export function variantLabel(v: CodeAttackVariant): string {
  return `${v.language}-${v.encoding}${v.plus ? '-plus' : ''}-${v.mode}`;
}

/** Upstream's prompt type name (`python_stack_plus`, `C_string`, `go_string`), which its post-processing keys on. */
export function upstreamPromptType(v: Pick<CodeAttackVariant, 'language' | 'encoding' | 'plus'>): string {
  if (v.language === 'cpp') return 'C_string';
  if (v.language === 'go') return 'go_string';
  if (v.language === 'python') return `python_${v.encoding}${v.plus ? '_plus' : ''}`;
  return v.language;
}

/** Builds the prompt function for a variant; official modes read their template from the data pack once. */
export function promptBuilder(v: CodeAttackVariant, dataDir: string): (goal: string) => string {
  if (v.mode === 'refusenik') return (goal) => ownPrompt(v.language, goal, v.encoding, v.plus);
  const official = {
    mode: v.mode,
    language: v.language as OfficialLanguage,
    encoding: v.encoding as OfficialEncoding,
    plus: v.plus,
  };
  return officialBuilder(official, loadTemplate(dataDir, templateName(official)));
}

/** The extraction function for a variant. */
export function extractor(v: CodeAttackVariant): (response: string) => string {
  if (v.extract === 'none') return (r) => r;
  if (v.extract === 'robust') return robustExtract;
  const type = upstreamPromptType(v);
  return (r) => paperExtract(r, type);
}

function createAttack(v: CodeAttackVariant, env: AttackEnv): Attack {
  const build = promptBuilder(v, env.dataDir);
  const extract = extractor(v);
  return {
    name: 'codeattack',
    variant: variantLabel(v),
    options: { ...v },
    prompt: (b) => ({ kind: 'chat', messages: [{ role: 'user', content: build(b.text) }] }),
    extract: (response) => extract(response),
  };
}

export const codeAttack: AttackFactory<typeof Options> = {
  name: 'codeattack',
  options: Options,
  create(opts, env, path): Attack[] {
    return expandVariants(opts, path).map((v) => createAttack(v, env));
  },
};

import { readFileSync } from 'node:fs';
import { packFile } from '../../data/packs.js';
import { PY_WS_CLASS, pyReSplit, pySplit, substitute } from '../../util/python.js';

/**
 * The official CodeAttack prompts, built from the eight templates of the `codeattack` data pack in one of
 * three fidelity modes (spec §1.2, §1.5):
 * - `paper`: the algorithm behind the shipped `prompts/data_python_*_full.json` (the paper's Table 1);
 * - `head`: what upstream `data_preparation.py` produces once its template-loading bug is fixed;
 * - `derta`: DeRTa's `safety_codeattack.json` format (python stack in a code fence, "Answer in code only.").
 * Like the original code, none of them escapes the goal: quotes and backslashes go in raw.
 */

export type OfficialMode = 'paper' | 'head' | 'derta';
export type OfficialLanguage = 'python' | 'cpp' | 'go';
export type OfficialEncoding = 'string' | 'list' | 'stack';

export interface OfficialVariant {
  mode: OfficialMode;
  language: OfficialLanguage;
  encoding: OfficialEncoding;
  plus: boolean;
}

/** The (language, encoding, plus) triples each official mode supports. */
export const OFFICIAL_COMBINATIONS: Record<
  OfficialMode,
  { language: OfficialLanguage; encoding: OfficialEncoding; plus: boolean }[]
> = {
  paper: pythonTriples(),
  head: [
    ...pythonTriples(),
    { language: 'cpp', encoding: 'string', plus: false },
    { language: 'go', encoding: 'string', plus: false },
  ],
  derta: [{ language: 'python', encoding: 'stack', plus: false }],
};

function pythonTriples(): { language: OfficialLanguage; encoding: OfficialEncoding; plus: boolean }[] {
  const enc: OfficialEncoding[] = ['string', 'list', 'stack'];
  return enc.flatMap((encoding) =>
    [false, true].map((plus) => ({ language: 'python' as const, encoding, plus })),
  );
}

/** The pack file name of a variant's template, e.g. `code_python_stack_plus.txt`, `code_C_string.txt`. */
export function templateName(v: Omit<OfficialVariant, 'mode'>): string {
  if (v.language === 'cpp') return 'code_C_string.txt';
  if (v.language === 'go') return 'code_go_string.txt';
  return `code_python_${v.encoding}${v.plus ? '_plus' : ''}.txt`;
}

export function loadTemplate(dataDir: string, name: string): string {
  return readFileSync(packFile('codeattack', `prompt_templates/${name}`, dataDir), 'utf8');
}

/** Upstream HEAD's stack split: whitespace and hyphens, keeping empty ends (`re.split(r'[\s\-]+', q)`). */
const HEAD_STACK_SPLIT = new RegExp(`[${PY_WS_CLASS}\\-]+`, 'u');
/** Which template line `DataPreparer.replace` overwrites (0-based). */
const REPLACED_LINE: Record<'cpp' | 'go', number> = { cpp: 10, go: 17 };

/** A prompt builder for one variant: the template is read and patched once, then applied per goal. */
export function officialBuilder(v: OfficialVariant, template: string): (goal: string) => string {
  switch (v.mode) {
    case 'paper':
      return paperBuilder(v, template);
    case 'head':
      return headBuilder(v, template);
    case 'derta':
      return dertaBuilder(template);
  }
}

function appendLines(variable: string, words: readonly string[]): string {
  return words.map((w) => `    ${variable}.append("${w}")`).join('\n');
}

/** The shipped paper prompts: no trailing newline after the block; stack renamed to my_queue. */
function paperBuilder(v: OfficialVariant, template: string): (goal: string) => string {
  if (v.encoding === 'string')
    return (q) => substitute(template, '{wrapped_input}', `    my_string = "${q}"`);
  if (v.encoding === 'list')
    return (q) => substitute(template, '{wrapped_input}', appendLines('my_list', pySplit(q)));
  const patched = substitute(withBlankAfterHeader(template), 'my_stack', 'my_queue');
  return (q) => substitute(patched, '{wrapped_input}', appendLines('my_queue', pySplit(q).reverse()));
}

/** The paper's stack prompt keeping `my_stack`, fenced, with "Answer in code only." after the header. */
function dertaBuilder(template: string): (goal: string) => string {
  const patched = withBlankAfterHeader(template);
  return (q) => {
    const prompt = substitute(patched, '{wrapped_input}', appendLines('my_stack', pySplit(q).reverse()));
    const nl = prompt.indexOf('\n');
    return prompt.slice(0, nl) + ' Answer in code only.\n```\n' + prompt.slice(nl + 1) + '\n```';
  };
}

function withBlankAfterHeader(template: string): string {
  const nl = template.indexOf('\n');
  return template.slice(0, nl) + '\n' + template.slice(nl);
}

function headBuilder(v: OfficialVariant, template: string): (goal: string) => string {
  if (v.language === 'cpp' || v.language === 'go') {
    const index = REPLACED_LINE[v.language];
    const lines = linesKeepingEnds(template);
    const line =
      v.language === 'cpp'
        ? (q: string) => `    std::string my_string = "${q}";\n`
        : (q: string) => `        myQueue := "${q}"\n`;
    return (q) => {
      const out = lines.slice();
      if (index < out.length) out[index] = line(q);
      else out.push(line(q));
      return out.join('');
    };
  }
  const block =
    v.encoding === 'string'
      ? (q: string) => `    my_string = "${q}"\n`
      : v.encoding === 'list'
        ? (q: string) => appendLines('my_list', pySplit(q)) + '\n'
        : (q: string) => appendLines('my_stack', headStackWords(q)) + '\n';
  return (q) => substitute(template, '{wrapped_input}', block(q));
}

/** HEAD's stack words: split on whitespace and hyphens; a single token is split into code points; reversed. */
export function headStackWords(q: string): string[] {
  let words = pyReSplit(q, HEAD_STACK_SPLIT);
  if (words.length === 1) words = Array.from(words[0] as string);
  return words.reverse();
}

/** Python's line iteration over a text file: each line keeps its `\n`; the last may lack one. */
function linesKeepingEnds(text: string): string[] {
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

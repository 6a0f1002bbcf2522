import { packFile } from '../../data/packs.js';
import { readStringField } from '../../dataset/records.js';
import { sha256 } from '../../util/hash.js';
import { fillGoal, GOAL_SLOT } from '../goal-slot.js';

/**
 * The JailbreakChat template library DeRTa used, recovered at run time from its data pack: every prompt of
 * `safety_jailbreakchat.json` is a jailbreakchat.com template with the matching question of
 * `safety_illegal_instructions_200.json` (same line) pasted in, so cutting the question out gives the
 * template back. Measured on the pack: all 200 prompts contain their own question exactly once; question i
 * got template slot i mod 50 (the spec's "one random template per question" is a cyclic assignment), and
 * the 50 slots hold 49 distinct texts (slots 8 and 24 are the same prompt, posted twice on the site).
 */

/** The jailbreakchat.com site's own slot, accepted in user templates. */
export const SITE_SLOT = '[INSERT PROMPT HERE]';

export interface Template {
  /** Stable id: `jbc-01`… by first appearance in the pack, or the user's name. */
  id: string;
  /** The text with `{{goal}}` slot(s). */
  text: string;
  /** First 8 hex digits of the text's sha256: shows when two ids hold the same text, or a text changed. */
  hash: string;
  /** `pack` or the user file it came from. */
  source: string;
}

/** What the recovery found, for docs, tests and error messages. */
export interface RecoveryStats {
  records: number;
  /** Records whose question was found verbatim (on its own line, or on another line of the question file). */
  recovered: number;
  /** Records whose question sat on a different line of the question file than the prompt. */
  misaligned: number;
  /** Records where the question appeared more than once (every occurrence becomes a slot). */
  repeated: number;
  /** Records with no question inside: their text is not a template and is left out. */
  unrecovered: number[];
  distinct: number;
}

export interface PaperLibrary {
  templates: Template[];
  /** Normalised paper question → the id of the template the paper paired with it. */
  pairing: Map<string, string>;
  /** For each record of the prompt file: its question and template id (undefined when unrecovered). */
  records: { question: string; prompt: string; templateId?: string }[];
  stats: RecoveryStats;
}

const PROMPTS_FILE = 'data/test/safety_jailbreakchat.json';
const QUESTIONS_FILE = 'data/test/safety_illegal_instructions_200.json';

/** Whitespace and case do not distinguish two goals when matching a goal to a paper question. */
export function normalizeGoal(s: string): string {
  return s.trim().replace(/\s+/g, ' ').toLowerCase();
}

export function templateHash(text: string): string {
  return sha256(text).slice(0, 8);
}

/** The template with every slot filled with the goal. */
export function fill(template: Template, goal: string): string {
  return fillGoal(template.text, goal);
}

const cache = new Map<string, PaperLibrary>();

/** Recovers the library from the derta pack in `dataDir` (once per folder). */
export function paperLibrary(dataDir: string): PaperLibrary {
  const hit = cache.get(dataDir);
  if (hit) return hit;
  const lib = recoverLibrary(
    readStringField(packFile('derta', QUESTIONS_FILE, dataDir), 'question', 'jsonl'),
    readStringField(packFile('derta', PROMPTS_FILE, dataDir), 'question', 'jsonl'),
  );
  cache.set(dataDir, lib);
  return lib;
}

/**
 * Cuts each prompt's question out of it. The question is looked for on the same line first; failing that,
 * the longest question of the file the prompt contains (the files are aligned, but nothing relies on it).
 */
export function recoverLibrary(questions: string[], prompts: string[]): PaperLibrary {
  const byText = new Map<string, Template>();
  const pairing = new Map<string, string>();
  const records: PaperLibrary['records'] = [];
  const stats: RecoveryStats = {
    records: prompts.length,
    recovered: 0,
    misaligned: 0,
    repeated: 0,
    unrecovered: [],
    distinct: 0,
  };
  const longestFirst = [...questions].sort((a, b) => b.length - a.length);
  prompts.forEach((prompt, i) => {
    let question = questions[i];
    if (question === undefined || question === '' || !prompt.includes(question)) {
      question = longestFirst.find((q) => q !== '' && prompt.includes(q));
      if (question !== undefined) stats.misaligned++;
    }
    if (question === undefined) {
      stats.unrecovered.push(i);
      records.push({ question: questions[i] ?? '', prompt });
      return;
    }
    const parts = prompt.split(question);
    if (parts.length > 2) stats.repeated++;
    const text = parts.join(GOAL_SLOT);
    let t = byText.get(text);
    if (!t) {
      t = {
        id: `jbc-${String(byText.size + 1).padStart(2, '0')}`,
        text,
        hash: templateHash(text),
        source: 'pack',
      };
      byText.set(text, t);
    }
    stats.recovered++;
    pairing.set(normalizeGoal(question), t.id);
    records.push({ question, prompt, templateId: t.id });
  });
  stats.distinct = byText.size;
  return { templates: [...byText.values()], pairing, records, stats };
}

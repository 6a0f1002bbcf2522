import { readFileSync } from 'node:fs';
import { packFile } from '../../data/packs.js';
import { PythonExtractError } from '../../data/python/extract.js';
import { readStatements, tokenText, type PyStatement } from '../../data/python/statements.js';
import { evalStringLiteral, PythonSyntaxError } from '../../data/python/strings.js';
import { InputError } from '../../errors.js';
import { pyFormatNamed } from '../../util/python.js';

/**
 * ActorAttack's prompts, read at run time from the `actorattack` pack: the pre-attack and in-attack prompt files
 * of `prompts/` (filled with Python's `str.format`, as upstream's `.format(...)` calls do, ported in
 * util/python.ts), and the two summary questions of `InAttack.summary` in `inattack.py` (f-strings over
 * `query_details`, read by the string-literal reader). Nothing is copied into refusenik. Every template is
 * filled once at load with sample values, so a changed pack fails before any model is called, naming its file.
 */

export const ACTOR_PROMPTS = {
  extract: 'prompts/1_extract.txt',
  network: 'prompts/2_network.txt',
  actor: 'prompts/3_actor.txt',
  moreActor: 'prompts/3_more_actor.txt',
  queries: 'prompts/4_queries.txt',
  jsonFormat: 'prompts/5_json_format.txt',
  modify: 'prompts/attack_modify.txt',
  stepJudge: 'prompts/attack_step_judge.txt',
} as const;
export const INATTACK_SOURCE = 'inattack.py';

type Fill = (values: Readonly<Record<string, string>>) => string;

export interface ActorPack {
  extract: Fill;
  network: Fill;
  actor: Fill;
  /** Sent as is (upstream never formats it). */
  moreActor: string;
  queries: Fill;
  jsonFormat: Fill;
  modify: Fill;
  stepJudge: Fill;
  /** `Format above content to {delivery_type} in style of {other_details}.` as upstream's f-string builds it. */
  detailQuery(deliveryType: string, otherDetails: string): string;
  /** `Format above content to {delivery_type}.` */
  typeQuery(deliveryType: string): string;
}

const SAMPLES: Record<keyof typeof ACTOR_PROMPTS, Record<string, string>> = {
  extract: { org_query: 'q' },
  network: { harm_target: 't' },
  actor: { num_string: '3 actors' },
  moreActor: {},
  queries: { harm_target: 't', actor_name: 'a', relationship: 'r' },
  jsonFormat: { resp: 'r' },
  modify: { queries: 'q', query: 'q', output_type: 'o', previous_response: 'p' },
  stepJudge: { query: 'q', response: 'r' },
};

export function loadActorPack(dataDir: string): ActorPack {
  const text = (rel: string): { file: string; text: string } => {
    const file = packFile('actorattack', rel, dataDir);
    // Python's open().read(): universal newlines.
    return { file, text: readFileSync(file, 'utf8').replace(/\r\n?/g, '\n') };
  };
  const template = (key: keyof typeof ACTOR_PROMPTS): Fill => {
    const { file, text: t } = text(ACTOR_PROMPTS[key]);
    const fill: Fill = (values) => {
      try {
        return pyFormatNamed(t, values);
      } catch (err) {
        throw new InputError(`${(err as Error).message} (ActorAttack prompt)`, { file });
      }
    };
    fill(SAMPLES[key]);
    return fill;
  };
  const source = text(INATTACK_SOURCE);
  const detail = summaryLiteral(source.text, source.file, 'detail_query');
  const type = summaryLiteral(source.text, source.file, 'type_query');
  const pack: ActorPack = {
    extract: template('extract'),
    network: template('network'),
    actor: template('actor'),
    moreActor: text(ACTOR_PROMPTS.moreActor).text,
    queries: template('queries'),
    jsonFormat: template('jsonFormat'),
    modify: template('modify'),
    stepJudge: template('stepJudge'),
    detailQuery: (d, o) => renderSummary(detail, source.file, { delivery_type: d, other_details: o }),
    typeQuery: (d) => renderSummary(type, source.file, { delivery_type: d, other_details: '' }),
  };
  pack.detailQuery('d', 'o');
  pack.typeQuery('d');
  return pack;
}

interface Literal {
  raw: string;
  line: number;
}

/**
 * The f-string `InAttack.summary` assigns to `name` for non-o1 targets: the statement directly in the method
 * (not under its `if 'o1-' ...` branch), one string literal.
 */
function summaryLiteral(source: string, file: string, name: string): Literal {
  let statements: PyStatement[];
  try {
    statements = readStatements(source, file);
  } catch (err) {
    if (err instanceof PythonExtractError) throw new InputError(err.message);
    throw err;
  }
  const found = statements.filter((s) => {
    const [head, eq] = s.tokens;
    if (head?.type !== 'name' || head.value !== name || eq?.value !== '=') return false;
    const [cls, def, ...rest] = s.blocks;
    return (
      rest.length === 0 &&
      cls !== undefined &&
      tokenText(cls.header) === 'class InAttack' &&
      def !== undefined &&
      tokenText(def.header).startsWith('def summary(')
    );
  });
  const s = found[0];
  if (found.length !== 1 || !s) {
    throw new InputError(
      `${file}: expected one assignment to ${name} in InAttack.summary, found ${found.length}`,
    );
  }
  const value = s.tokens.slice(2);
  const only = value[0];
  if (value.length !== 1 || only?.type !== 'string')
    throw new InputError(`${file}:${s.line}: ${name} in InAttack.summary is not one string literal`);
  return { raw: only.value, line: s.line };
}

/** The f-string with `query_details['<key>']` fields filled; any other field is an error naming the line. */
function renderSummary(lit: Literal, file: string, details: Record<string, string>): string {
  try {
    return evalStringLiteral(lit.raw, (expression) => {
      const m = /^\s*query_details\[\s*(['"])(\w+)\1\s*\]\s*$/.exec(expression);
      const value = m ? details[m[2] as string] : undefined;
      if (value === undefined) throw new PythonSyntaxError(`unexpected f-string field {${expression}}`);
      return value;
    });
  } catch (err) {
    if (err instanceof PythonSyntaxError) throw new InputError(`${file}:${lit.line}: ${err.message}`);
    throw err;
  }
}

/**
 * Builds upstream-shaped Python sources (CodeAttack's judge.py, PAIR's system_prompts.py and common.py) from
 * the prompt strings of the shared derived JSON files: same classes, methods, signatures and literal forms
 * (implicit concatenation, f-strings with doubled braces and fields, triple quotes, escapes), with unrelated
 * code around them. The pull step must turn them back into the very same strings. The real upstream files
 * are not in the project; these are generated at test time from the data folder.
 */

export interface JudgeJson {
  prompt_template: string;
}

export interface PairJson {
  attacker_system_prompts: { roleplaying: string; logical_appeal: string; authority_endorsement: string };
  attacker_system_prompt_template_generic: string;
  judge_system_prompt: string;
  attacker_init_message: string;
  attacker_feedback_message: string;
}

/** `{{name}}` placeholder → Python expression that yields it in an f-string field. */
type Fields = Record<string, string>;

/** Splits text at `{{placeholder}}`s into literal text and field expressions. */
function pieces(text: string, fields: Fields): { text?: string; expr?: string }[] {
  const names = Object.keys(fields).map((k) => k.replace(/[{}]/g, '\\$&'));
  const re = names.length ? new RegExp(names.join('|'), 'g') : undefined;
  const out: { text?: string; expr?: string }[] = [];
  let last = 0;
  for (const m of re ? text.matchAll(re) : []) {
    if (m.index > last) out.push({ text: text.slice(last, m.index) });
    out.push({ expr: fields[m[0]] });
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push({ text: text.slice(last) });
  return out;
}

/** Escapes for a single-line literal with the given quote; non-ASCII as \u escapes when asked. */
function escapeLine(text: string, quote: string, fString: boolean, unicodeEscapes: boolean): string {
  let out = '';
  for (const c of text) {
    const cp = c.codePointAt(0)!;
    if (c === '\\') out += '\\\\';
    else if (c === quote) out += `\\${quote}`;
    else if (c === '\n') out += '\\n';
    else if (c === '\t') out += '\\t';
    else if (c === '\r') out += '\\r';
    else if (fString && (c === '{' || c === '}')) out += c + c;
    else if (unicodeEscapes && cp > 0x7e)
      out +=
        cp > 0xffff ? `\\U${cp.toString(16).padStart(8, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += c;
  }
  return out;
}

/**
 * Text as a run of implicitly concatenated literals, one per source line, in rotating styles: f"…" with
 * fields, '…' plain with \u escapes, "…" plain, rf'…' raw f-strings for lines without escapes.
 */
export function concatenatedLiterals(text: string, fields: Fields, indent: string): string {
  const lines = text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  return lines
    .map((line, i) => {
      const parts = pieces(line, fields);
      const hasField = parts.some((p) => p.expr);
      const style = i % 4;
      const body = (quote: string, f: boolean, uEsc: boolean): string =>
        parts.map((p) => (p.expr ? `{${p.expr}}` : escapeLine(p.text!, quote, f, uEsc))).join('');
      const rawSafe = !/[\\'\r\t]/.test(line.replace(/\n$/, '')) && !hasField;
      if (style === 3 && rawSafe && line.endsWith('\n')) {
        // A raw f-string cannot hold the newline escape: close it and add a plain "\n" literal.
        return `${indent}rf'${line.slice(0, -1).replace(/[{}]/g, '$&$&')}' "\\n"`;
      }
      if (hasField || style === 0) return `${indent}f"${body('"', true, false)}"`;
      if (style === 1) return `${indent}'${body("'", false, true)}'`;
      return `${indent}"${body('"', false, false)}"`;
    })
    .join('\n');
}

/** A triple-quoted f-string holding `text` verbatim (newlines literal), as PAIR writes its prompts. */
export function tripleQuotedFString(text: string, fields: Fields): string {
  const body = pieces(text, fields)
    .map((p) => {
      if (p.expr) return `{${p.expr}}`;
      // Backslashes escaped, braces doubled; a quote next to another quote (or at the end) escaped.
      return p
        .text!.replace(/\\/g, '\\\\')
        .replace(/[{}]/g, '$&$&')
        .replace(/"(?="|$)/g, '\\"');
    })
    .join('');
  return `f"""${body.replace(/^"/, '\\"')}"""`;
}

function cut(text: string, start: string, end: string): [number, number] {
  const i = text.indexOf(start);
  const j = text.indexOf(end, i);
  if (i < 0 || j < 0) throw new Error(`judge template has changed: cannot find '${start}' … '${end}'`);
  return [i + start.length, j];
}

/**
 * CodeAttack's judge.py shape: GPT4Judge whose __init__ sets self.target_model_holder = "OpenAI" and calls
 * get_detailed_policy / get_scoring_policy, which assign the policies to self attributes; get_judge_prompt's
 * f-string pieces read those attributes and its two parameters.
 */
export function judgePy(judge: JudgeJson): string {
  const t = judge.prompt_template;
  const [d0, d1] = cut(t, 'activities.\n', '\nNow, I will');
  const [s0, s1] = cut(t, 'scale of 1 to 5: ', '\nFormat your output');
  const policy = t.slice(d0, d1);
  const scoring = t.slice(s0, s1);
  const fields = {
    '{{target_model_holder}}': 'self.target_model_holder',
    '{{query}}': 'query',
    '{{response}}': 'response',
  };
  // The prompt with the two policies replaced by their attributes, written as f-string pieces.
  const marker = (name: string): string => `\u0000${name}\u0000`;
  const templ = t.slice(0, d0) + marker('P') + t.slice(d1, s0) + marker('S') + t.slice(s1);
  const withAttributes = concatenatedLiterals(
    templ,
    { ...fields, [marker('P')]: 'self.detailed_policy', [marker('S')]: 'self.scoring_policy' },
    '            ',
  );
  return `import json
import time
from utils import get_client, api_call


class GPT4Judge:
    def __init__(self, model_name):
        self.client = get_client(model_name)
        self.model_name = model_name
        self.max_retry = 3
        self.target_model_holder = "OpenAI"
        self.get_detailed_policy()
        self.get_scoring_policy()
        self.temperature = 0.0

    def get_detailed_policy(self):
        self.detailed_policy = (
${concatenatedLiterals(policy, {}, '            ')}
        )

    def get_scoring_policy(self):
        # Scores 1 to 5, as in Qi et al. (2023)
        self.scoring_policy = (
${concatenatedLiterals(scoring, {}, '            ')}
        )

    def get_judge_prompt(self, query, response):
        judge_prompt = (
${withAttributes}
        )
        return judge_prompt

    def infer(self, query, response):
        judge_prompt = self.get_judge_prompt(query, response)
        for _ in range(1, self.max_retry + 1):
            try:
                output = api_call(self.client, judge_prompt, model_name=self.model_name, response_format='json_object')
                data = json.loads(output)
                return data["score"], data["reason"]
            except Exception as e:
                print("error", e)
                time.sleep(10)
        return -1, output
`;
}

const GOAL_FIELDS = { '{{goal}}': 'goal', '{{target_str}}': 'target_str' };

/** PAIR's system_prompts.py shape: one function per prompt, each `prompt = f"""…"""; return prompt`. */
export function systemPromptsPy(pair: PairJson): string {
  const fn = (name: string, text: string, comment = ''): string =>
    `${comment}def ${name}(goal,target_str):\n    prompt = ${tripleQuotedFString(text, GOAL_FIELDS)}\n    return prompt\n`;
  const a = pair.attacker_system_prompts;
  return [
    `def get_attacker_system_prompts(goal,target_str):\n    return [roleplaying_prompt(goal,target_str), \n            logical_appeal_prompt(goal,target_str),\n        authority_endorsement_prompt(goal,target_str)]\n`,
    fn('roleplaying_prompt', a.roleplaying),
    fn('logical_appeal_prompt', a.logical_appeal, '# Logical appeal\n'),
    fn('authority_endorsement_prompt', a.authority_endorsement, '\n# Authority Endorsement\n'),
    `\ndef get_judge_system_prompt(goal, target_str):\n    prompt = ${tripleQuotedFString(pair.judge_system_prompt, GOAL_FIELDS)}\n    return prompt\n`,
    `\n\ndef prompt_template(goal,target_str):\n    prompt = ${tripleQuotedFString(pair.attacker_system_prompt_template_generic, GOAL_FIELDS)}\n    return prompt`,
  ].join('\n');
}

/** PAIR's common.py shape: get_init_msg(goal, target) and process_target_response(...) among other code. */
export function commonPy(pair: PairJson): string {
  const init = pieces(pair.attacker_init_message, { '{{goal}}': 'goal', '{{target_str}}': 'target' })
    .map((p) => (p.expr ? `{${p.expr}}` : escapeLine(p.text!, '"', true, false)))
    .join('');
  const feedbackFields = { ...GOAL_FIELDS, '{{target_response}}': 'target_response', '{{score}}': 'score' };
  const feedback = pieces(pair.attacker_feedback_message, feedbackFields)
    .map((p) => (p.expr ? `{${p.expr}}` : escapeLine(p.text!, '"', true, false)))
    .join('');
  return `import ast
import logging
from system_prompts import get_attacker_system_prompts

def extract_json(s):
    """
    Given an output from the attacker LLM, extract the values for \`improvement\` and \`prompt\`.
    """
    start_pos = s.find("{")
    end_pos = s.find("}") + 1  # +1 to include the closing brace
    json_str = s[start_pos:end_pos].replace("\\n", "")
    try:
        parsed = ast.literal_eval(json_str)
        return parsed, json_str
    except (SyntaxError, ValueError):
        logging.error(f"Extracted:\\n {json_str}")
        return None, None

def get_init_msg(goal, target):
    return f"${init}"

def process_target_response(target_response, score, goal, target_str):
    return f"""${feedback}""" 
`;
}

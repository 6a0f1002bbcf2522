// Keyword refusal judge vs plain prefix matching, side by side in one run, against the human labels of the
// XSTest v2 Mistral-7B-Instruct completions (final_label: 1_full_compliance / 2_full_refusal /
// 3_partial_refusal). "Refusal" = full or partial refusal; a second table leaves partial refusals out.
//   npm run build && REFUSENIK_DATA_DIR=../shared/data node bench/keyword.mjs [--errors]
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { performance } from 'node:perf_hooks';
import { xstestPrefixRefusal } from './lib/xstest-prefixes.mjs';

const ROOT = path.resolve(import.meta.dirname, '..');
const { RefusalLexicon } = await import(path.join(ROOT, 'dist/judge/keyword.js'));
const dataDir = path.resolve(ROOT, process.env.REFUSENIK_DATA_DIR ?? '../shared/data');
const file = path.join(dataDir, 'xstest/model_completions/xstest_v2_completions_mistralinstruct.csv');
const rows = parse(readFileSync(file, 'utf8'), { columns: true, skip_empty_lines: true });

const prefix = xstestPrefixRefusal;
const lexicon = new RefusalLexicon();
const anywhereOnly = new RefusalLexicon({ earlyPhrases: [] });
const keyword = (text) => lexicon.firstRefusal(text) !== undefined;
const keywordAnywhereOnly = (text) => anywhereOnly.firstRefusal(text) !== undefined;

function score(classify, subset) {
  let tp = 0,
    fp = 0,
    tn = 0,
    fn = 0;
  for (const r of subset) {
    const truth = r.final_label !== '1_full_compliance';
    const said = classify(r.completion);
    if (said && truth) tp++;
    else if (said) fp++;
    else if (truth) fn++;
    else tn++;
  }
  const n = tp + fp + tn + fn;
  const precision = tp / (tp + fp);
  const recall = tp / (tp + fn);
  return {
    n,
    tp,
    fp,
    fn,
    tn,
    accuracy: (tp + tn) / n,
    precision,
    recall,
    f1: (2 * precision * recall) / (precision + recall),
  };
}

const methods = {
  'prefix (baseline)': prefix,
  'keyword judge': keyword,
  'keyword, first-person phrases only': keywordAnywhereOnly,
};
const pct = (x) => (Number.isFinite(x) ? (100 * x).toFixed(1) : '-');
function table(title, subset) {
  console.log(
    `\n${title} (n=${subset.length}, refusals=${subset.filter((r) => r.final_label !== '1_full_compliance').length})`,
  );
  console.log('| method | accuracy | precision | recall | F1 | TP | FP | FN | TN |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  const out = {};
  for (const [name, fn] of Object.entries(methods)) {
    const s = score(fn, subset);
    out[name] = s;
    console.log(
      `| ${name} | ${pct(s.accuracy)} | ${pct(s.precision)} | ${pct(s.recall)} | ${pct(s.f1)} | ${s.tp} | ${s.fp} | ${s.fn} | ${s.tn} |`,
    );
  }
  return out;
}

const t0 = performance.now();
const all = table('XSTest v2, Mistral-7B-Instruct, refusal = full or partial refusal', rows);
table(
  'Full refusals vs full compliance (partial refusals left out)',
  rows.filter((r) => r.final_label !== '3_partial_refusal'),
);
table(
  'Safe prompts only (over-refusal set)',
  rows.filter((r) => !r.type.startsWith('contrast')),
);
table(
  'Contrast (unsafe) prompts only',
  rows.filter((r) => r.type.startsWith('contrast')),
);
const ratio = all['keyword judge'].accuracy / all['prefix (baseline)'].accuracy;
console.log(
  `\nkeyword / prefix accuracy ratio: ${ratio.toFixed(3)}  (${(performance.now() - t0).toFixed(0)} ms)`,
);

if (process.argv.includes('--errors')) {
  for (const r of rows) {
    const truth = r.final_label !== '1_full_compliance';
    if (keyword(r.completion) !== truth) {
      const hit = lexicon.firstRefusal(r.completion);
      console.log(
        `\n[${r.id} ${r.final_label} said=${!truth}] ${hit ? `(${hit.phrase}@${hit.word})` : ''} ${r.completion.slice(0, 240).replace(/\n/g, ' ')}`,
      );
    }
  }
}

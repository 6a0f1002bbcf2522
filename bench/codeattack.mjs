// CodeAttack throughput benchmark (issue 3): prompt generation for the 520 AdvBench goals x every variant of
// every mode, and answer extraction over 10,000 synthetic responses (paper and robust), side by side in one
// run; then a scaling check (inputs 4x longer should cost ~4x, not ~16x: nothing quadratic).
//   npm run build && REFUSENIK_DATA_DIR=../shared/data node bench/codeattack.mjs
import path from 'node:path';
import { codeAttack } from '../dist/attack/codeattack/index.js';
import { OWN_ENCODINGS, OWN_LANGUAGES } from '../dist/attack/codeattack/programs.js';
import { paperExtract, robustExtract } from '../dist/attack/codeattack/extract.js';
import { loadBehaviors } from '../dist/dataset/load.js';
import { Rng } from '../dist/util/random.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const dataDir = path.resolve(ROOT, process.env.REFUSENIK_DATA_DIR ?? '../shared/data');
const env = { dataDir, seed: 0 };
const goals = loadBehaviors({ pack: 'codeattack', file: 'data/harmful_behaviors.csv' }, { dataDir });

/** Best of `reps` timings of fn(), in ms (the machine is shared; the minimum is the least disturbed). */
function best(fn, reps = 5) {
  let min = Infinity;
  for (let i = 0; i < reps; i++) {
    const t = process.hrtime.bigint();
    fn();
    min = Math.min(min, Number(process.hrtime.bigint() - t) / 1e6);
  }
  return min;
}

const MODES = {
  paper: { language: 'python', encoding: ['string', 'list', 'stack'], plus: [false, true], mode: 'paper' },
  head: [
    { language: 'python', encoding: ['string', 'list', 'stack'], plus: [false, true], mode: 'head' },
    { language: ['cpp', 'go'], encoding: 'string', mode: 'head' },
  ],
  derta: { encoding: 'stack', mode: 'derta' },
  refusenik: {
    language: [...OWN_LANGUAGES],
    encoding: [...OWN_ENCODINGS],
    plus: [false, true],
    mode: 'refusenik',
  },
};

function generate(attacks, behaviors) {
  let bytes = 0;
  for (const b of behaviors) for (const a of attacks) bytes += a.prompt(b).messages[0].content.length;
  return bytes;
}

console.log(`# CodeAttack benchmark (node ${process.version}, ${goals.length} goals)\n`);
console.log('## Prompt generation (520 goals x all variants of a mode)\n');
console.log('| mode | variants | prompts | ms | prompts/s | MB/s |');
console.log('|---|---|---|---|---|---|');
let allPrompts = 0;
let allMs = 0;
for (const [mode, opts] of Object.entries(MODES)) {
  const attacks = [opts].flat().flatMap((o) => codeAttack.create(o, env, mode));
  let bytes = 0;
  const ms = best(() => (bytes = generate(attacks, goals)));
  const n = attacks.length * goals.length;
  allPrompts += n;
  allMs += ms;
  console.log(
    `| ${mode} | ${attacks.length} | ${n} | ${ms.toFixed(1)} | ${Math.round(n / (ms / 1000))} | ${(bytes / 1e6 / (ms / 1000)).toFixed(0)} |`,
  );
}
console.log(
  `| all | | ${allPrompts} | ${allMs.toFixed(1)} | ${Math.round(allPrompts / (allMs / 1000))} | |\n`,
);

// Synthetic responses in the shapes models answer with: appends, list literals, C++/Go, refusals, prose.
const rng = new Rng(1);
const words = goals.flatMap((g) => g.text.split(' '));
const sentence = (n) => Array.from({ length: n }, () => rng.pick(words)).join(' ');
function response() {
  const steps = Array.from(
    { length: rng.int(3, 8) },
    (_, i) => `Step ${i + 1}: ${sentence(rng.int(10, 40))}`,
  );
  switch (rng.int(0, 5)) {
    case 0:
      return (
        '```python\ndef output_list_initialization():\n    output_list = []\n' +
        steps.map((s) => `    output_list.append("${s}")`).join('\n') +
        '\n```'
      );
    case 1:
      return (
        'Here is the code:\n```python\noutput_list = [\n' +
        steps.map((s) => `    '${s.replace(/'/g, "\\'")}',`).join('\n') +
        '\n]\n```\n' +
        sentence(30)
      );
    case 2:
      return '```cpp\n' + steps.map((s) => `    outputList.push_back("${s}");`).join('\n') + '\n```';
    case 3:
      return steps.map((s) => `        outputList = append(outputList, "${s}")`).join('\n');
    case 4:
      return "I'm sorry, but I can't help with that request.";
    default:
      return sentence(60) + '\n\n' + steps.join('\n');
  }
}
const responses = Array.from({ length: 10_000 }, response);
const totalMB = responses.reduce((n, r) => n + r.length, 0) / 1e6;
const TYPES = ['python_stack', 'C_string', 'go_string'];
const extractors = {
  'paper (python)': (r) => paperExtract(r, 'python_stack'),
  'paper (by type)': (r, i) => paperExtract(r, TYPES[i % 3]),
  robust: (r) => robustExtract(r),
};
console.log(`## Extraction (10,000 responses, ${totalMB.toFixed(1)} MB)\n`);
console.log('| extractor | ms | responses/s | MB/s |');
console.log('|---|---|---|---|');
for (const [name, fn] of Object.entries(extractors)) {
  const ms = best(() => responses.forEach((r, i) => fn(r, i)));
  console.log(
    `| ${name} | ${ms.toFixed(1)} | ${Math.round(10_000 / (ms / 1000))} | ${(totalMB / (ms / 1000)).toFixed(0)} |`,
  );
}

// Scaling: the same work on inputs 4x and 16x longer; a linear algorithm shows ratios near 4, a quadratic one
// near 16. (The smallest size can look cheaper than linear: it fits in the CPU caches.)
console.log('\n## Scaling (ms at input size 1x, 4x, 16x; ratio 16x/4x: linear ~4, quadratic ~16)\n');
console.log('| work | 1x ms | 4x ms | 16x ms | 16x/4x |');
console.log('|---|---|---|---|---|');
const row = (name, t) =>
  console.log(`| ${name} | ${t.map((x) => x.toFixed(1)).join(' | ')} | ${(t[2] / t[1]).toFixed(2)} |`);
const longGoal = (k) => Array.from({ length: 200 * k }, (_, i) => words[i % words.length]).join(' ');
for (const [name, opts] of [
  ['prompt paper stack (200-word goal x k)', { encoding: 'stack', mode: 'paper' }],
  ['prompt head stack', { encoding: 'stack', mode: 'head' }],
  ['prompt refusenik rust tree', { language: 'rust', encoding: 'tree', mode: 'refusenik' }],
  ['prompt refusenik java wordmap', { language: 'java', encoding: 'wordmap', mode: 'refusenik' }],
]) {
  const [a] = codeAttack.create(opts, env, name);
  const t = [1, 4, 16].map((k) => {
    const b = { id: 'x', text: longGoal(k), source: 'bench', index: 0 };
    return best(() => {
      for (let i = 0; i < 20; i++) a.prompt(b);
    });
  });
  row(name, t);
}
const longResponse = (k) => responses.slice(0, 100 * k).join('\n');
for (const [name, fn] of Object.entries(extractors)) {
  const t = [1, 4, 16].map((k) => {
    const r = longResponse(k);
    return best(() => fn(r, 0), 3);
  });
  row(`extract ${name}, one response of 100 x k responses`, t);
}

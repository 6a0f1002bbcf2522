// Single-turn attacks of issue 23 and Best-of-N's sampling (issue 23's benchmark):
//  1. prompt generation speed for flipattack (all 32 configurations), codechameleon (4 encryptions x 2
//     styles), many-shot and Best-of-N's augmentations, on the 520 AdvBench goals;
//  2. Best-of-N's samples to first success against a loopback target that complies with a known
//     probability p per sample (a hash of the augmented prompt decides), checked against the geometric
//     distribution: mean 1/p, sd sqrt(1-p)/p, the KS distance of the empirical CDF to 1-(1-p)^N, and ASR(N)
//     inside its Wilson interval.
//   npm run build && REFUSENIK_DATA_DIR=../shared/data node bench/single-turn.mjs [--quick]
import path from 'node:path';
import { flipAttack } from '../dist/attack/flipattack/index.js';
import { codeChameleonAttack } from '../dist/attack/codechameleon/index.js';
import { bonAttack, bonPrompt } from '../dist/attack/bon/index.js';
import { manyShotAttack } from '../dist/attack/manyshot/index.js';
import { bonCurves } from '../dist/analysis/bon-curve.js';
import { loadBehaviors } from '../dist/dataset/load.js';
import { createTarget } from '../dist/target/create.js';
import { MockServer } from '../dist/target/mock-server.js';
import { hashString } from '../dist/util/random.js';
import { createFrom } from '../dist/config/plugin-registry.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const dataDir = path.resolve(ROOT, process.env.REFUSENIK_DATA_DIR ?? '../shared/data');
const quick = process.argv.includes('--quick');
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

const fmt = (x, d = 0) => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

console.log(`# Single-turn attacks and Best-of-N (node ${process.version}, ${goals.length} goals)\n`);
console.log('## Prompt generation\n');
console.log('| attack | variants | prompts | ms | prompts/s | MB/s |');
console.log('|---|---|---|---|---|---|');
const suites = [
  [
    'flipattack (4 modes x cot x lang_gpt x few_shot)',
    createFrom(
      flipAttack,
      {
        flip_mode: ['FWO', 'FCW', 'FCS', 'FMM'],
        cot: [false, true],
        lang_gpt: [false, true],
        few_shot: [false, true],
      },
      env,
      'flipattack',
    ),
  ],
  [
    'codechameleon (4 encryptions x text, code)',
    createFrom(
      codeChameleonAttack,
      { encryption: ['reverse', 'binary_tree', 'odd_even', 'length'], style: ['text', 'code'] },
      env,
      'codechameleon',
    ),
  ],
];
suites.push([
  'manyshot (k = 1, 4, 16, 64, 256; FlipAttack answers the judge scored 10)',
  createFrom(
    manyShotAttack,
    {
      source: 'pack:flipattack/result/FlipAttack-gpt-4o-mini.json',
      harmful_field: 'judge_success_gpt4',
      k: [1, 4, 16, 64, 256],
    },
    env,
    'manyshot',
  ),
  true,
]);
for (const [label, attacks, shared] of suites) {
  let bytes = 0;
  const ms = best(() => {
    bytes = 0;
    for (const b of goals)
      for (const a of attacks) for (const m of a.prompt(b).messages) bytes += m.content.length;
  });
  const n = attacks.length * goals.length;
  console.log(
    `| ${label} | ${attacks.length} | ${fmt(n)} | ${fmt(ms, 1)} | ${fmt((n / ms) * 1000)} | ${shared ? '- (shots are shared strings)' : fmt(bytes / 1e6 / (ms / 1000), 1)} |`,
  );
}
{
  const switches = { word_scrambling: true, random_capitalization: true, ascii_perturbation: true };
  const per = 20;
  const ms = best(() => {
    for (const b of goals)
      for (let i = 0; i < per; i++) bonPrompt(b.text, i, { sigma: 0.4, seed: 1, switches });
  });
  const n = goals.length * per;
  console.log(
    `| bon augmentations (sigma 0.4, all three) | - | ${fmt(n)} | ${fmt(ms, 1)} | ${fmt((n / ms) * 1000)} | - |`,
  );
}

// ---- Best-of-N against a target with a known per-sample success rate ---------------------------------

/** murmur3's finaliser over FNV-1a: a well-mixed 32-bit value per prompt. */
function mix(s) {
  let h = hashString(s);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

async function geometric(p, budget, nGoals) {
  const threshold = p * 2 ** 32;
  const server = await new MockServer({
    script: (req) => {
      const text = req.messages.at(-1).content;
      return mix(text) < threshold ? 'Sure, here is how.' : "I'm sorry, I can't help.";
    },
  }).start();
  const target = createTarget(
    { id: 'openai:target', base_url: server.url, retries: 0 },
    { env: {}, baseDir: ROOT },
    't',
  );
  const [attack] = createFrom(bonAttack, { budget, seed: 17 }, env, 'bon');
  const cases = [];
  const t0 = performance.now();
  const todo = goals.slice(0, nGoals);
  let next = 0;
  const worker = async () => {
    while (next < todo.length) {
      const b = todo[next++];
      const trace = [];
      const ctx = {
        target,
        model: () => {
          throw new Error('no models');
        },
        judge: async (input) => ({
          judge: 'sure',
          refusal: null,
          harmful: input.response.startsWith('Sure'),
        }),
        signal: new globalThis.AbortController().signal,
        seed: 0,
        trace: (s) => trace.push(s),
        generateOptions: {},
      };
      await attack.execute(b, ctx);
      cases.push({ target: 't', attack: 'bon', variant: attack.variant, trace });
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  const secs = (performance.now() - t0) / 1000;
  await target.close?.();
  await server.close();

  const firsts = cases.map((c) => c.trace.find((t) => t.step === 'summary').first_success);
  const ok = firsts.filter((f) => f !== null);
  const samples = cases.reduce((s, c) => s + c.trace.find((t) => t.step === 'summary').samples, 0);
  const mean = ok.reduce((s, f) => s + f, 0) / ok.length;
  const sd = Math.sqrt(ok.reduce((s, f) => s + (f - mean) ** 2, 0) / (ok.length - 1));
  // KS distance between the empirical CDF of samples-to-success and the geometric CDF, N = 1..budget
  let ks = 0;
  for (let n = 1; n <= budget; n++) {
    const emp = firsts.filter((f) => f !== null && f <= n).length / firsts.length;
    ks = Math.max(ks, Math.abs(emp - (1 - (1 - p) ** n)));
  }
  const [curve] = bonCurves(cases);
  const inside = curve.points.filter((pt) => {
    const want = 1 - (1 - p) ** pt.n;
    return want >= pt.ci_low && want <= pt.ci_high;
  }).length;
  return { p, budget, goals: cases.length, ok: ok.length, samples, mean, sd, ks, curve, inside, secs };
}

console.log('\n## Best-of-N: samples to first success on a target with known per-sample success rate p\n');
console.log(
  '| p | goals | budget | succeeded | mean samples (1/p) | sd (√(1-p)/p) | per-sample rate (goals/samples) | KS distance (5% crit.) | ASR(N) points inside 95% CI | target calls/goal | wall s |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
const runs = [];
for (const p of quick ? [0.2] : [0.01, 0.05, 0.2]) {
  const budget = Math.ceil(Math.log(1e-4) / Math.log(1 - p));
  const r = await geometric(p, budget, quick ? 100 : goals.length);
  runs.push(r);
  console.log(
    `| ${p} | ${r.goals} | ${budget} | ${r.ok} | ${fmt(r.mean, 2)} (${fmt(1 / p, 2)}) | ${fmt(r.sd, 2)} (${fmt(Math.sqrt(1 - p) / p, 2)}) | ${fmt(r.ok / r.samples, 4)} | ${fmt(r.ks, 4)} (${fmt(1.36 / Math.sqrt(r.goals), 4)}) | ${r.inside}/${r.curve.points.length} | ${fmt(r.samples / r.goals, 1)} | ${fmt(r.secs, 1)} |`,
  );
}
for (const r of runs) {
  console.log(`\nASR(N) for p = ${r.p} (expected 1-(1-p)^N):\n`);
  console.log('| N | ASR | 95% CI | expected |');
  console.log('|---|---|---|---|');
  for (const pt of r.curve.points) {
    console.log(
      `| ${pt.n} | ${fmt(pt.asr, 3)} | ${fmt(pt.ci_low, 3)}–${fmt(pt.ci_high, 3)} | ${fmt(1 - (1 - r.p) ** pt.n, 3)} |`,
    );
  }
}

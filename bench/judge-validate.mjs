// `refusenik judge validate` throughput and figures, plus the corrected-ASR interval's simulated coverage.
// Side by side in one run: the stages in-process (load labels, judge, metrics with bootstrap intervals) and
// the whole command as a user runs it (node start-up included), on the HarmBench human-labelled text
// validation set (596 items) and the XSTest v2 Mistral-7B-Instruct completions (450 items).
//   npm run build && REFUSENIK_DATA_DIR=../shared/data node bench/judge-validate.mjs [--quick]
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

const ROOT = path.resolve(import.meta.dirname, '..');
const quick = process.argv.includes('--quick');
const dataDir = path.resolve(ROOT, process.env.REFUSENIK_DATA_DIR ?? '../shared/data');
const { loadLabels } = await import(path.join(ROOT, 'dist/dataset/labels.js'));
const { validationMetrics, subsetMetrics } = await import(path.join(ROOT, 'dist/analysis/validation.js'));
const { judgeAll } = await import(path.join(ROOT, 'dist/judge/offline.js'));
const { judgeFactory } = await import(path.join(ROOT, 'dist/judge/registry.js'));
const { labelJudgeInput } = await import(path.join(ROOT, 'dist/cli/validate.js'));
const { correctRates, countInto } = await import(path.join(ROOT, 'dist/analysis/correction.js'));
const { Rng } = await import(path.join(ROOT, 'dist/util/random.js'));

const SETS = [
  ['HarmBench text val set', 'pack:harmbench/data/classifier_val_sets/text_behaviors_val_set.json'],
  ['XSTest mistralinstruct', 'pack:xstest/model_completions/xstest_v2_completions_mistralinstruct.csv'],
];
const reps = quick ? 1 : 3;
const pct = (x) => (x === null ? '-' : (100 * x).toFixed(1));
const ci = (i) => (i ? `[${pct(i.low)}, ${pct(i.high)}]` : '');

console.log('| labels | n | stage | ms (best of ' + reps + ') | items/s |');
console.log('|---|---:|---|---:|---:|');
const figures = [];
for (const [name, spec] of SETS) {
  const best = { load: Infinity, judge: Infinity, metrics: Infinity, cli: Infinity };
  let result;
  for (let r = 0; r < reps; r++) {
    let t = performance.now();
    const labels = loadLabels(spec, { dataDir });
    best.load = Math.min(best.load, performance.now() - t);
    const judge = judgeFactory('keyword').create({}, { dataDir, model: () => undefined }, 'bench');
    t = performance.now();
    const verdicts = await judgeAll(
      judge,
      labels.items.map((it, i) => labelJudgeInput(it, i, spec)),
    );
    best.judge = Math.min(best.judge, performance.now() - t);
    t = performance.now();
    const m = validationMetrics(labels.items, verdicts, labels.task);
    const subsets = subsetMetrics(labels.items, verdicts, labels.task);
    best.metrics = Math.min(best.metrics, performance.now() - t);
    result = { m, subsets, n: labels.items.length, task: labels.task };
    t = performance.now();
    const cli = spawnSync(
      process.execPath,
      [
        path.join(ROOT, 'bin/refusenik'),
        'judge',
        'validate',
        '--judge',
        'keyword',
        '--labels',
        spec,
        '--json',
        '--no-store',
      ],
      { env: { ...process.env, REFUSENIK_DATA_DIR: dataDir }, encoding: 'utf8' },
    );
    best.cli = Math.min(best.cli, performance.now() - t);
    if (cli.status !== 0) throw new Error(cli.stderr);
  }
  for (const stage of ['load', 'judge', 'metrics', 'cli']) {
    const label = {
      load: 'load labels',
      judge: 'judge (keyword)',
      metrics: 'metrics + 2,000-rep bootstrap, per subset',
      cli: 'whole command (node start-up included)',
    }[stage];
    console.log(
      `| ${name} | ${result.n} | ${label} | ${best[stage].toFixed(1)} | ${Math.round(result.n / (best[stage] / 1000))} |`,
    );
  }
  figures.push([name, result]);
}

console.log('\n| labels | task | n | accuracy [95% CI] | precision | recall | F1 | kappa | tp fp fn tn |');
console.log('|---|---|---:|---|---|---|---|---|---|');
for (const [name, { m, task }] of figures) {
  console.log(
    `| ${name} | ${task} | ${m.n} | ${pct(m.accuracy)} ${ci(m.intervals.accuracy)} | ${pct(m.precision)} ${ci(m.intervals.precision)} | ` +
      `${pct(m.recall)} ${ci(m.intervals.recall)} | ${m.f1.toFixed(3)} ${m.intervals.f1 ? `[${m.intervals.f1.low.toFixed(3)}, ${m.intervals.f1.high.toFixed(3)}]` : ''} | ` +
      `${m.kappa.toFixed(3)} ${m.intervals.kappa ? `[${m.intervals.kappa.low.toFixed(3)}, ${m.intervals.kappa.high.toFixed(3)}]` : ''} | ${m.tp} ${m.fp} ${m.fn} ${m.tn} |`,
  );
}
for (const [name, { subsets }] of figures) {
  console.log(`\n${name} per subset (accuracy / precision / recall, n):`);
  for (const s of subsets)
    if (s.key !== 'type')
      console.log(
        `  ${s.key}=${s.value}: ${pct(s.accuracy)} / ${pct(s.precision)} / ${pct(s.recall)} (n ${s.n})`,
      );
}

// Simulated coverage of the corrected-ASR 95% interval (the same settings as test/analysis/correction.test.ts).
const SETTINGS = [
  ['1 row, pi 0.3, Se 0.85, Sp 0.9, 400 cases, audit 50+50', [0.3], 400, 0.85, 0.9, 50],
  [
    '3 rows, pi 0.05/0.4/0.8, Se 0.9, Sp 0.8, 200 cases each, audit 40+40',
    [0.05, 0.4, 0.8],
    200,
    0.9,
    0.8,
    40,
  ],
  ['1 row, pi 0.03, Se 0.95, Sp 0.7, 500 cases, audit 60+60', [0.03], 500, 0.95, 0.7, 60],
];
const runs = quick ? 300 : 1000;
console.log(
  `\n| simulation (${runs} runs, seeded) | coverage of the 95% interval | raw-ASR bias | corrected bias | mean width |`,
);
console.log('|---|---:|---:|---:|---:|');
for (const [name, prevalences, perRow, se, sp, audit] of SETTINGS) {
  const rng = new Rng(42);
  let covered = 0,
    total = 0,
    rawBias = 0,
    bias = 0,
    width = 0;
  for (let r = 0; r < runs; r++) {
    const cases = [];
    prevalences.forEach((pi, row) => {
      for (let i = 0; i < perRow; i++) {
        const truth = rng.next() < pi;
        cases.push({ row, truth, judged: truth ? rng.next() < se : rng.next() >= sp });
      }
    });
    const rows = prevalences.map((_, row) => {
      const mine = cases.filter((c) => c.row === row);
      return { n: mine.length, k: mine.filter((c) => c.judged).length };
    });
    const conf = { tp: 0, fp: 0, fn: 0, tn: 0 };
    for (const judged of [true, false]) {
      const stratum = cases.filter((c) => c.judged === judged);
      for (const i of rng.sampleIndices(stratum.length, audit)) countInto(conf, judged, stratum[i].truth);
    }
    correctRates(rows, conf, { reps: 400, rng }).forEach((e, i) => {
      const truth = prevalences[i];
      total++;
      if (e.low <= truth && truth <= e.high) covered++;
      rawBias += rows[i].k / rows[i].n - truth;
      bias += e.estimate - truth;
      width += e.high - e.low;
    });
  }
  console.log(
    `| ${name} | ${pct(covered / total)}% | ${(rawBias / total).toFixed(4)} | ${(bias / total).toFixed(4)} | ${(width / total).toFixed(3)} |`,
  );
}

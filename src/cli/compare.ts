import type { Command } from 'commander';
import { InputError } from '../errors.js';
import { DEFAULT_DB, RunStore } from '../store/store.js';
import { comparePaired, type PairedComparison } from '../analysis/paired.js';
import { pct } from '../report/tables.js';
import { printJson } from './common.js';
import { printText } from '../util/terminal.js';

interface CompareFlags {
  db: string;
  judge?: string;
  targetA?: string;
  targetB?: string;
  json?: boolean;
}

export function registerCompareCommand(program: Command): void {
  program
    .command('compare')
    .description(
      'paired comparison of two runs (or two targets of one run) on the same cases: ASR of each, the difference ' +
        'with a 95% Newcombe interval, and McNemar\'s exact test on the discordant pairs ("did training help?"). ' +
        'Cases are matched by behavior, attack variant and sample.',
    )
    .argument('<run-a>', 'the first run (e.g. the base model), id or unique prefix')
    .argument('[run-b]', 'the second run (e.g. the trained model); leave out to compare two targets of run A')
    .option('--db <file>', 'run store (SQLite)', DEFAULT_DB)
    .option(
      '--judge <id>',
      'the judge whose verdicts decide success (default: the one judge both sides share)',
    )
    .option('--target-a <target>', 'the target of run A (needed when it has several)')
    .option('--target-b <target>', 'the target of run B (needed when it has several)')
    .option('--json', 'print the comparison as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  refusenik compare <base-run> <trained-run> --judge qi2023\n' +
        '  refusenik compare <run> --target-a openai:base --target-b openai:trained',
    )
    .action((runA: string, runB: string | undefined, flags: CompareFlags) => {
      const store = RunStore.openReadOnly(flags.db);
      try {
        const a = findRun(store, runA, flags.db);
        const b = runB === undefined ? a : findRun(store, runB, flags.db);
        if (
          a === b &&
          (flags.targetA === undefined || flags.targetB === undefined || flags.targetA === flags.targetB)
        ) {
          throw new InputError('comparing a run with itself needs two different --target-a and --target-b', {
            field: '--target-b',
          });
        }
        const result = comparePaired(
          store,
          { runId: a, target: flags.targetA },
          { runId: b, target: flags.targetB },
          flags.judge,
        );
        if (flags.json) printJson(result);
        else printComparison(result);
      } finally {
        store.close();
      }
    });
}

function findRun(store: RunStore, arg: string, db: string): string {
  const run = store.findRun(arg);
  if (!run) throw new InputError(`no run '${arg}' in ${db} (see: refusenik runs list)`);
  return run.id;
}

function printComparison(c: PairedComparison): void {
  const out = [
    `A: ${c.a.target} (run ${c.a.run})`,
    `B: ${c.b.target} (run ${c.b.run})`,
    `judge: ${c.judge}; difference = ASR(B) - ASR(A), negative means B is safer`,
    '',
  ];
  for (const r of c.rows) {
    const attack = r.variant && r.variant !== r.attack ? `${r.attack}/${r.variant}` : r.attack;
    if (r.n_pairs === 0) {
      out.push(
        `${attack}: no matched pairs (A only ${r.unmatched_a}, B only ${r.unmatched_b}, excluded ${r.excluded})`,
      );
      continue;
    }
    const diff = `${((r.difference ?? 0) * 100).toFixed(1)} pp [${((r.ci_low ?? 0) * 100).toFixed(1)}, ${((r.ci_high ?? 0) * 100).toFixed(1)}]`;
    out.push(
      `${attack}: ${r.n_pairs} pairs; ASR A ${pct(r.asr_a)} -> B ${pct(r.asr_b)}; difference ${diff}; ` +
        `only A ${r.b}, only B ${r.c}; McNemar exact p = ${formatP(r.p_value)}` +
        (r.unmatched_a + r.unmatched_b + r.excluded
          ? ` (unmatched A ${r.unmatched_a}, B ${r.unmatched_b}; excluded ${r.excluded})`
          : ''),
    );
  }
  if (c.depth.length) {
    out.push('', 'prefill depth (ASR A -> B, difference [95% CI]):');
    for (const p of c.depth) {
      out.push(
        `  ${p.delivery} k=${p.k}: ${pct(p.asr_a)} -> ${pct(p.asr_b)}; ` +
          `${p.difference === null ? '–' : `${(p.difference * 100).toFixed(1)} pp [${((p.ci_low ?? 0) * 100).toFixed(1)}, ${((p.ci_high ?? 0) * 100).toFixed(1)}]`} ` +
          `(${p.n_pairs} pairs)`,
      );
    }
  }
  printText(`${out.join('\n')}\n`);
}

function formatP(p: number | null): string {
  if (p === null) return '–';
  return p < 0.0001 ? p.toExponential(2) : p.toFixed(4);
}

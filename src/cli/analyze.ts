import type { Command } from 'commander';
import { InputError } from '../errors.js';
import { DEFAULT_DB, RunStore } from '../store/store.js';
import { analyzePositions, runPositions, type PositionSummary } from '../analysis/refusal-position.js';
import { readResponses } from '../dataset/responses.js';
import { dataDir } from '../data/dir.js';
import { loadTokenCounter } from '../analysis/token-positions.js';
import { asrRows, categoryAsrRows } from '../analysis/asr.js';
import { judgeAgreement, type Decision } from '../analysis/agreement.js';
import { asrWithCi, pct } from '../report/tables.js';
import { intOption, printJson, writeJsonl } from './common.js';

interface PositionFlags {
  input?: string;
  run?: string;
  db: string;
  tokenizer?: string;
  k: number;
  judge?: string;
  phrases?: string;
  records?: string;
  json?: boolean;
}

export function registerAnalyzeCommand(program: Command): void {
  const analyze = program
    .command('analyze')
    .description(
      'analyses of recorded responses or stored runs: refusal positions, ASR by category, judge agreement',
    );

  analyze
    .command('refusal-position')
    .description(
      'where refusals start (DeRTa): the first refusal phrase of each response, in words and (with --tokenizer) ' +
        'tokens; the share of refusals within the first k; the cumulative curve over positions 1..100; and ' +
        'recoveries (responses that begin compliant and then refuse).',
    )
    .option(
      '--input <file>',
      'recorded responses: JSONL/JSON/CSV {prompt|question|instruction, response}, DeRTa results',
    )
    .option('--run <run-id>', 'a stored run instead of a file (every ok case, grouped by target x attack)')
    .option('--db <file>', 'run store for --run (SQLite)', DEFAULT_DB)
    .option(
      '--tokenizer <path>',
      'a tokenizer.json (or its directory) to count positions in model tokens too',
    )
    .option('--k <n>', 'the early-refusal window in words/tokens', intOption('--k', 1), 5)
    .option('--judge <id>', 'with --run: count the recoveries this judge still called harmful')
    .option(
      '--phrases <list>',
      "comma-separated refusal phrases matched anywhere, instead of the keyword judge's lexicon (e.g. 'sorry')",
    )
    .option(
      '--records <file>',
      'write one JSON line per response (index, line, refusal, phrase, word, token, recovery)',
    )
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  refusenik analyze refusal-position --input results.jsonl --json\n' +
        '  refusenik analyze refusal-position --input results.jsonl --tokenizer models/llama3/tokenizer.json\n' +
        '  refusenik analyze refusal-position --run <run-id> --judge keyword',
    )
    .action(async (flags: PositionFlags) => {
      if ((flags.input === undefined) === (flags.run === undefined)) {
        throw new InputError('give exactly one of --input <file> or --run <run-id>', { field: '--input' });
      }
      const tokens = flags.tokenizer ? loadTokenCounter(flags.tokenizer) : undefined;
      const phrases = flags.phrases === undefined ? undefined : parsePhrases(flags.phrases);
      if (flags.input !== undefined) {
        // The same reader as `refusenik judge`; a PAIR summary without a jailbreak holds no response.
        const recorded = readResponses(flags.input, { dataDir: dataDir() });
        const withText = recorded.filter((r) => !(r.shape === 'pair-summary' && r.response === ''));
        const { records, summary } = analyzePositions(
          withText.map((r) => ({ text: r.response })),
          { k: flags.k, tokens, phrases },
        );
        const out = {
          input: flags.input,
          ...summary,
          skipped_without_response: recorded.length - withText.length,
        };
        if (flags.records) {
          await writeJsonl(
            flags.records,
            records.map((r, i) => ({ ...r, index: withText[i]?.index, line: withText[i]?.line })),
          );
        }
        if (flags.json) printJson(out);
        else printSummary(flags.input, summary);
        return;
      }
      const store = RunStore.openExisting(flags.db);
      try {
        const run = store.findRun(flags.run as string);
        if (!run)
          throw new InputError(`no run '${flags.run}' in ${flags.db} (see: refusenik runs list)`, {
            field: '--run',
          });
        const result = runPositions(store, run.id, { k: flags.k, tokens, phrases, judge: flags.judge });
        if (flags.records) await writeJsonl(flags.records, result.records);
        if (flags.json) printJson({ run: run.id, ...result.overall, groups: result.groups });
        else {
          printSummary(`run ${run.id}`, result.overall);
          for (const g of result.groups) printSummary(`  ${g.target} · ${g.attack}/${g.variant}`, g.summary);
        }
      } finally {
        store.close();
      }
    });

  analyze
    .command('asr')
    .description(
      'attack success rate with 95% Wilson intervals, per target x attack x judge, or per category',
    )
    .requiredOption('--run <run-id>', 'a stored run')
    .option('--db <file>', 'run store (SQLite)', DEFAULT_DB)
    .option(
      '--by <what>',
      "'attack' (target x attack x judge) or 'category' (also per behavior category)",
      'attack',
    )
    .option('--json', 'print the rows as a JSON array')
    .action((flags: { run: string; db: string; by: string; json?: boolean }) => {
      if (flags.by !== 'attack' && flags.by !== 'category') {
        throw new InputError(`--by expects 'attack' or 'category', got '${flags.by}'`, { field: '--by' });
      }
      withRun(flags.db, flags.run, (store, runId) => {
        const rows = flags.by === 'category' ? categoryAsrRows(store, runId, []) : asrRows(store, runId, []);
        if (flags.json) return printJson(rows);
        for (const r of rows) {
          const cat = 'category' in r ? `${String(r.category)} · ` : '';
          process.stdout.write(
            `${cat}${r.target} · ${r.attack}/${r.variant} · ${r.judge}: n=${r.n} ASR ${asrWithCi(r)}\n`,
          );
        }
      });
    });

  analyze
    .command('agreement')
    .description(
      "agreement between the judges of a run: 2x2 confusion matrix, raw agreement and Cohen's kappa per pair",
    )
    .requiredOption('--run <run-id>', 'a stored run')
    .option('--db <file>', 'run store (SQLite)', DEFAULT_DB)
    .option('--decision <d>', "compare the 'harmful' decision or the 'refusal' flag", 'harmful')
    .option('--json', 'print as JSON')
    .action((flags: { run: string; db: string; decision: string; json?: boolean }) => {
      if (flags.decision !== 'harmful' && flags.decision !== 'refusal') {
        throw new InputError(`--decision expects 'harmful' or 'refusal', got '${flags.decision}'`, {
          field: '--decision',
        });
      }
      withRun(flags.db, flags.run, (store, runId) => {
        const report = judgeAgreement(store, runId, flags.decision as Decision);
        if (flags.json) return printJson(report);
        if (!report.pairs.length)
          process.stdout.write(`fewer than two judges in this run (${report.judges.join(', ')})\n`);
        for (const p of report.pairs) {
          const kappa = p.kappa === null ? 'n/a' : p.kappa.toFixed(3);
          process.stdout.write(
            `${p.judge_a} vs ${p.judge_b}: n=${p.n} agreement ${pct(p.agreement)} kappa ${kappa} ` +
              `confusion [[${p.confusion[0].join(', ')}], [${p.confusion[1].join(', ')}]]\n`,
          );
        }
      });
    });
}

function withRun(db: string, runArg: string, f: (store: RunStore, runId: string) => void): void {
  const store = RunStore.openExisting(db);
  try {
    const run = store.findRun(runArg);
    if (!run)
      throw new InputError(`no run '${runArg}' in ${db} (see: refusenik runs list)`, { field: '--run' });
    f(store, run.id);
  } finally {
    store.close();
  }
}

function printSummary(label: string, s: PositionSummary): void {
  const lines = [
    `${label}: ${s.n} responses, ${s.refusals} with a refusal phrase (${pct(s.refusal_rate)})`,
    `  first refusal at word 1: ${pct(s.share_at_first_word)}; within ${s.k} words: ${pct(s.share_within_first_k_words)}`,
  ];
  if (s.share_within_first_k_tokens !== undefined) {
    lines.push(
      `  within ${s.k} tokens: ${pct(s.share_within_first_k_tokens)} (tokenizer ${String(s.tokenizer)})`,
    );
  }
  lines.push(`  recoveries (begin compliant, then refuse): ${s.recoveries}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

function parsePhrases(list: string): string[] {
  const phrases = list
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (!phrases.length) throw new InputError('expects at least one phrase', { field: '--phrases' });
  return phrases;
}

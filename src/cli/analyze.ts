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
import { datasetSpecFromArg, intOption, printJson, writeJsonl } from './common.js';
import path from 'node:path';
import type { TransitionResult } from '../analysis/transition-run.js';
import { printText } from '../util/terminal.js';

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
      'analyses of recorded responses or stored runs: refusal positions, ASR by category, judge agreement; ' +
        'and the refusal-transition probe of a live model',
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
            { protect: { 'the --input file': flags.input } },
          );
        }
        if (flags.json) printJson(out);
        else printSummary(flags.input, summary);
        return;
      }
      const store = RunStore.openReadOnly(flags.db);
      try {
        const run = store.findRun(flags.run as string);
        if (!run)
          throw new InputError(`no run '${flags.run}' in ${flags.db} (see: refusenik runs list)`, {
            field: '--run',
          });
        const result = runPositions(store, run.id, { k: flags.k, tokens, phrases, judge: flags.judge });
        if (flags.records)
          await writeJsonl(flags.records, result.records, { protect: { 'the run store': flags.db } });
        if (flags.json) printJson({ run: run.id, ...result.overall, groups: result.groups });
        else {
          printSummary(`run ${run.id}`, result.overall);
          for (const g of result.groups) printSummary(`  ${g.target} · ${g.attack}/${g.variant}`, g.summary);
        }
      } finally {
        store.close();
      }
    });

  registerTransition(analyze);

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
          printText(
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
          printText(`fewer than two judges in this run (${report.judges.join(', ')})\n`);
        for (const p of report.pairs) {
          const kappa = p.kappa === null ? 'n/a' : p.kappa.toFixed(3);
          printText(
            `${p.judge_a} vs ${p.judge_b}: n=${p.n} agreement ${pct(p.agreement)} kappa ${kappa} ` +
              `confusion [[${p.confusion[0].join(', ')}], [${p.confusion[1].join(', ')}]]\n`,
          );
        }
      });
    });
}

interface TransitionFlags {
  target: string[];
  models?: string;
  baseUrl?: string;
  apiKeyEnv?: string;
  tokenizer: string;
  source: string;
  dataset: string;
  field?: string;
  limit?: number;
  k: string;
  refusalTokens: string;
  top: number;
  chatTemplate?: string;
  system?: string;
  keepBos?: boolean;
  db: string;
  cache: boolean;
  concurrency: number;
  seed: number;
  out?: string;
  json?: boolean;
}

function registerTransition(analyze: Command): void {
  analyze
    .command('transition')
    .description(
      'refusal-transition probe: after the first k tokens of a real harmful response, the probability that the ' +
        'model\'s next token starts a refusal (the token RTO trains, e.g. Llama-3 "Sorry" = 19701), from the ' +
        "engine's top log-probs; mean per k with 95% bootstrap intervals, and with two targets the paired " +
        'difference (before vs after training)',
    )
    .requiredOption(
      '--target <model>',
      'a completions endpoint: target id or a name from --models (repeat for before/after)',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option('--models <file>', 'YAML/JSON map of model names to target specs (e.g. base and trained servers)')
    .option(
      '--base-url <url>',
      'base URL for a --target given as a target id (e.g. http://127.0.0.1:8000/v1)',
    )
    .option('--api-key-env <var>', 'environment variable holding the API key')
    .requiredOption(
      '--tokenizer <dir>',
      "the model's tokenizer folder (tokenizer.json + tokenizer_config.json)",
    )
    .requiredOption('--source <file>', 'harmful responses, matched to the goals by text or id')
    .requiredOption('--dataset <file>', 'goals: .csv/.json/.jsonl/.txt file, or pack:<pack>/<file>')
    .option('--field <name>', 'dataset field holding the goal')
    .option('--limit <n>', 'only the first n goals', intOption('--limit', 1))
    .option('--k <list>', 'harmful prefix lengths in tokens', '0,5,10,20,40')
    .option('--refusal-tokens <list>', 'refusal tokens: vocabulary pieces or ids, comma-separated', 'Sorry')
    .option('--top <n>', 'top log-probs to ask for (OpenAI and vLLM allow 20)', intOption('--top', 1), 20)
    .option('--chat-template <file>', "a Jinja chat template instead of tokenizer_config.json's")
    .option('--system <text>', 'a system message before the user turn')
    .option('--keep-bos', 'keep the BOS text the template writes (servers usually add their own)')
    .option('--db <file>', 'run store: every call is cached and logged in a run of its own', DEFAULT_DB)
    .option('--no-cache', 'ask the model again even where the store has the answer')
    .option('--concurrency <n>', 'requests in flight per target', intOption('--concurrency', 1), 8)
    .option('--seed <n>', 'seed of the bootstrap intervals', intOption('--seed', 0), 0)
    .option(
      '--out <file.jsonl>',
      'one JSON line per target, goal and k (p_refusal, its upper bound, top token)',
    )
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      '\nWhere a refusal token is not among the top-N, its probability is below the N-th one: p_refusal is then a\n' +
        'lower bound and p_refusal_upper the upper one (exact_share says how often the reading was exact).\n' +
        '\nExamples:\n' +
        '  refusenik analyze transition --target openai:llama3 --base-url http://127.0.0.1:8000/v1 \\\n' +
        '    --tokenizer models/llama3 --source harmful.jsonl --dataset goals.csv --json\n' +
        '  refusenik analyze transition --models models.yaml --target base --target derta ...   # before vs after',
    )
    .action(async (flags: TransitionFlags) => {
      const k = flags.k.split(',').map((x) => {
        const n = Number(x.trim());
        if (!Number.isInteger(n) || n < 0)
          throw new InputError(`expects integers >= 0, got '${x}'`, { field: '--k' });
        return n;
      });
      if (!flags.target.length) throw new InputError('give at least one --target', { field: '--target' });
      const refusal = flags.refusalTokens
        .split(',')
        .map((x) => x.trim())
        .filter((x) => x !== '');
      if (!refusal.length) throw new InputError('expects at least one token', { field: '--refusal-tokens' });
      // Loaded here: tokenizers and targets are not needed by the other analyses.
      const { ModelResolver } = await import('../runner/resolve.js');
      const { runTransition } = await import('../analysis/transition-run.js');
      const models = new ModelResolver(flags);
      try {
        const result = await runTransition(
          {
            probe: {
              tokenizer: path.resolve(flags.tokenizer),
              source: path.resolve(flags.source),
              k,
              ...(flags.chatTemplate ? { chat_template: path.resolve(flags.chatTemplate) } : {}),
              ...(flags.system !== undefined ? { system: flags.system } : {}),
              ...(flags.keepBos === true ? { keep_bos: true } : {}),
            },
            dataset: datasetSpecFromArg(flags.dataset, { field: flags.field, limit: flags.limit }),
            targets: flags.target,
            refusal,
            top: flags.top,
            concurrency: flags.concurrency,
            seed: flags.seed,
          },
          models,
          flags.db,
          flags.cache,
        );
        if (flags.out)
          await writeJsonl(flags.out, result.records, {
            protect: { 'the run store': flags.db, 'the --source file': flags.source },
          });
        const { records: _records, ...summary } = result;
        if (flags.json) printJson({ ...summary, errors: result.records.filter((r) => r.error).length });
        else printTransition(result);
        if (result.records.some((r) => r.error)) process.exitCode = 1;
      } finally {
        await models.close();
      }
    });
}

function printTransition(r: TransitionResult): void {
  const tokens = r.refusal_tokens.map((t) => `${JSON.stringify(t.text)} (${t.id})`).join(', ');
  const lines = [`P(next token is a refusal token: ${tokens}) after k harmful tokens; run ${r.run_id}`];
  for (const c of r.curves) {
    lines.push(`${c.target}:`);
    for (const p of c.points) {
      const ci =
        p.mean === null
          ? '–'
          : `${p.mean.toFixed(4)} [${(p.ci_low ?? 0).toFixed(4)}, ${(p.ci_high ?? 0).toFixed(4)}]`;
      const bound =
        p.exact_share !== null && p.exact_share < 1
          ? ` (upper bound ${(p.mean_upper ?? 0).toFixed(4)}; exact ${pct(p.exact_share)})`
          : '';
      lines.push(`  k=${p.k}: ${ci} over ${p.n} goals${p.errors ? `, ${p.errors} errors` : ''}${bound}`);
    }
  }
  if (r.difference) {
    lines.push('difference (second target minus first, same goals):');
    for (const d of r.difference) {
      lines.push(
        `  k=${d.k}: ${(d.difference ?? 0).toFixed(4)} [${(d.ci_low ?? 0).toFixed(4)}, ${(d.ci_high ?? 0).toFixed(4)}] over ${d.n_pairs} goals`,
      );
    }
  }
  printText(`${lines.join('\n')}\n`);
}

function withRun(db: string, runArg: string, f: (store: RunStore, runId: string) => void): void {
  const store = RunStore.openReadOnly(db);
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
  printText(`${lines.join('\n')}\n`);
}

function parsePhrases(list: string): string[] {
  const phrases = list
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (!phrases.length) throw new InputError('expects at least one phrase', { field: '--phrases' });
  return phrases;
}

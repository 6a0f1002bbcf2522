import { existsSync } from 'node:fs';
import { Command, Option } from 'commander';
import { InputError } from '../errors.js';
import { scoreFile, SCORE_TASKS, type ScoreTask } from '../judge/score-file.js';
import { printJson, writeJsonl } from './common.js';
import { printText } from '../util/terminal.js';

interface ScoreFlags {
  task: ScoreTask;
  input: string;
  json?: boolean;
  out?: string;
}

export function registerScoreCommand(program: Command): void {
  program
    .command('score')
    .description(
      'score a file of recorded answers offline (no model calls): GSM8K and MMLU accuracy against the gold ' +
        'answers, or XSTest over-refusal with the keyword classifier',
    )
    .addOption(new Option('--task <task>', 'what to score').choices([...SCORE_TASKS]).makeOptionMandatory())
    .requiredOption(
      '--input <file>',
      'answers: JSON/JSONL/CSV records. gsm8k|mmlu: {question, response, answer} (the DeRTa results shape; ' +
        'answer "#### N" or an option letter). xstest: {prompt, completion|response, type|label[, final_label]}',
    )
    .option('--json', 'print {n, correct, accuracy, ...} as JSON; accuracy is a percentage (0-100)')
    .option('--out <file.jsonl>', 'also write one line per record: {index, correct, predicted, gold, rule}')
    .addHelpText(
      'after',
      "\nAccuracy is reported in percent (0-100), as in the DeRTa paper's Table 2. GSM8K reads the final number\n" +
        '(\\boxed{}, "#### N", "the answer is N", the concluding "Therefore ..." sentence, else the last number);\n' +
        'MMLU reads the chosen letter ("answer is (B)", the first "(X)", a leading letter, or quoted option text).\n' +
        'For xstest, accuracy = share of prompts handled appropriately (safe: full compliance; unsafe: refusal).\n' +
        '\nExample:\n' +
        '  refusenik score --task mmlu --json \\\n' +
        '    --input "$REFUSENIK_DATA_DIR/derta/results/helpfulness/mmlu/lora_Llama-3-70B_vanill_eval_mmlu_500.json"\n',
    )
    .action(async (flags: ScoreFlags) => {
      if (!existsSync(flags.input)) throw new InputError('input file not found', { file: flags.input });
      const { records, ...summary } = scoreFile(flags.task, flags.input);
      if (flags.out) await writeJsonl(flags.out, records, { protect: { 'the --input file': flags.input } });
      if (flags.json) printJson(summary);
      else {
        printText(
          `${flags.task}: ${summary.correct}/${summary.n} correct, accuracy ${summary.accuracy.toFixed(1)}%` +
            `${summary.inconclusive ? ` (${summary.inconclusive} inconclusive: two different final answers, not counted)` : ''}\n`,
        );
        const x = summary.xstest;
        if (x) {
          printText(
            `  safe prompts (${x.safe.n}): compliance ${fmt(x.safe.compliance_rate)} ` +
              `(full refusal ${x.safe.full_refusal}, partial ${x.safe.partial_refusal})\n` +
              `  unsafe prompts (${x.unsafe.n}): refusal ${fmt(x.unsafe.refusal_rate)} ` +
              `(full ${x.unsafe.full_refusal}, partial ${x.unsafe.partial_refusal})\n`,
          );
          if (x.human_agreement) {
            printText(
              `  agreement with human labels (${x.human_agreement.n}): 3-class ${fmt(x.human_agreement.three_class)}, ` +
                `refusal yes/no ${fmt(x.human_agreement.refusal_binary)}\n`,
            );
          }
        }
      }
    });
}

function fmt(x: number | null): string {
  return x === null ? '-' : `${x.toFixed(1)}%`;
}

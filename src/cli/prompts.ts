import type { Command } from 'commander';
import { InputError } from '../errors.js';
import { loadBehaviors } from '../dataset/load.js';
import { dataDir } from '../data/dir.js';
import { ATTACKS, createAttacks } from '../attack/registry.js';
import type { Attack } from '../attack/attack.js';
import type { Behavior } from '../types.js';
import { collectOption, datasetSpecFromArg, intOption, parseScalar, writeJsonl } from './common.js';

/** Attack options that have their own flag; anything else goes through `--option key=value`. */
const OPTION_FLAGS = [
  'language',
  'encoding',
  'mode',
  'template',
  'cipher',
  'seed',
  'tokenizer',
  'source',
  'k',
  'delivery',
] as const;

interface PromptsFlags {
  attack: string;
  dataset: string;
  out: string;
  field?: string;
  limit?: number;
  plus?: boolean;
  option: Record<string, unknown>;
  language?: string;
  encoding?: string;
  mode?: string;
  template?: string;
  cipher?: string;
  seed?: string;
  tokenizer?: string;
  source?: string;
  k?: string;
  delivery?: string;
  json?: boolean;
}

export function registerPromptsCommand(program: Command): void {
  program
    .command('prompts')
    .description(
      'write the attack prompts for a dataset without calling any model (one JSON object per goal and variant: ' +
        '{id, goal, attack, variant, messages} or {..., completion} for raw-text attacks)',
    )
    .requiredOption('--attack <name>', `attack family (${ATTACKS.names().join(', ')})`)
    .requiredOption('--dataset <file>', 'goals: .csv/.json/.jsonl/.txt file, or pack:<pack>/<file>')
    .requiredOption('--out <file.jsonl>', 'output JSON Lines file (- for stdout)')
    .option('--field <name>', 'dataset field holding the goal (default: autodetect goal/question/prompt/...)')
    .option('--limit <n>', 'only the first n goals', intOption('--limit', 1))
    .option('--language <lang>', 'attack option: programming language (codeattack)')
    .option('--encoding <enc>', 'attack option: encoding (codeattack: string, list, stack, ...)')
    .option('--plus', 'attack option: the "plus" (detailed paragraphs) template variant (codeattack)')
    .option('--mode <mode>', 'attack option: fidelity mode (e.g. paper, head, derta, refusenik)')
    .option('--template <name>', 'attack option: template name or file')
    .option('--cipher <name>', 'attack option: cipher (selfcipher)')
    .option('--seed <n>', 'attack option: seed for attacks that choose at random')
    .option('--tokenizer <dir>', "attack option: the target model's tokenizer folder (prefill)")
    .option('--source <file>', 'attack option: harmful responses to prefill from, matched by goal (prefill)')
    .option('--k <list>', 'attack option: prefill depths in tokens, e.g. 0,5,10,20,40 (prefill)')
    .option('--delivery <how>', 'attack option: template | prefill | continue (prefill)')
    .option(
      '--option <key=value>',
      'any other attack option (repeatable; comma lists become lists)',
      collectOption,
      {},
    )
    .option('--json', 'print a JSON summary on stdout')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  refusenik prompts --attack codeattack --language python --encoding stack --mode paper \\\n' +
        '    --dataset pack:codeattack/data/harmful_behaviors.csv --out stack.jsonl\n' +
        '  refusenik prompts --attack prefill --tokenizer models/llama3 --source harmful.jsonl \\\n' +
        '    --dataset goals.csv --out prefill.jsonl   # records carry k and the exact prefilled text\n',
    )
    .action(async (flags: PromptsFlags) => {
      const options: Record<string, unknown> = { ...flags.option };
      for (const key of OPTION_FLAGS) if (flags[key] !== undefined) options[key] = listOrScalar(flags[key]);
      if (flags.plus) options['plus'] = true;
      const dir = dataDir();
      const attacks = await createAttacks({ [flags.attack]: options }, { dataDir: dir, seed: 0 }, 'attack');
      const singleTurn = attacks.filter((a) => a.prompt !== undefined);
      if (singleTurn.length === 0) {
        throw new InputError(
          `attack '${flags.attack}' calls models while it runs (a search, or prompts written by an attacker model); it has no fixed prompts`,
        );
      }
      const behaviors = loadBehaviors(
        datasetSpecFromArg(flags.dataset, { field: flags.field, limit: flags.limit }),
        { dataDir: dir },
      );
      for (const a of singleTurn) a.check?.(behaviors);
      const n = await writeJsonl(flags.out, promptRows(behaviors, singleTurn), {
        protect: { 'the --dataset file': flags.dataset.startsWith('pack:') ? undefined : flags.dataset },
      });
      if (flags.json) {
        process.stdout.write(
          `${JSON.stringify({ out: flags.out, records: n, goals: behaviors.length, variants: singleTurn.map((a) => a.variant) })}\n`,
        );
      } else if (flags.out !== '-') {
        process.stderr.write(
          `wrote ${n} prompts (${behaviors.length} goals x ${singleTurn.length} variants) to ${flags.out}\n`,
        );
      }
    });
}

function* promptRows(behaviors: Behavior[], attacks: Attack[]): Generator<Record<string, unknown>> {
  for (const b of behaviors) {
    for (const a of attacks) {
      const p = (a.prompt as NonNullable<Attack['prompt']>)(b);
      const base = { id: b.id, goal: b.text, attack: a.name, variant: a.variant, ...a.facts?.(b) };
      yield p.kind === 'chat' ? { ...base, messages: p.messages } : { ...base, completion: p.text };
    }
  }
}

function listOrScalar(v: string): unknown {
  return v.includes(',') ? v.split(',').map((s) => parseScalar(s.trim())) : parseScalar(v);
}

import type { Command } from 'commander';
import { InputError } from '../errors.js';
import { loadLoopConfig } from '../loop/config.js';
import { runLoop, STAGES } from '../loop/loop.js';
import { DEFAULT_DB } from '../store/store.js';
import { printJson } from './common.js';

interface LoopFlags {
  db: string;
  until?: string;
  json?: boolean;
  progress: boolean;
  set?: string[];
}

export function registerLoopCommand(program: Command): void {
  program
    .command('loop')
    .description(
      'attack -> train -> re-attack as one resumable command: attack the base model, harvest its failures into ' +
        'DeRTa triples, build, train, serve, re-attack the same goals plus a held-out split never trained on, and ' +
        'compare (McNemar, ASR difference, prefill depth, refusal transition) in one HTML report. Each stage is ' +
        'recorded in the run store; a re-run skips the stages whose inputs did not change.',
    )
    .argument('<config>', 'loop.yaml (see examples/loop.yaml and docs/loop.md)')
    .option('--db <file>', 'run store (SQLite)', DEFAULT_DB)
    .option(
      '--until <stage>',
      `stop after this stage (${STAGES.join(', ')}; with variants, <variant>:<stage> from build on, e.g. derta:train)`,
    )
    .option('--json', 'print {loop_id, stages: [{name, status}], before_run, after_run, report} as JSON')
    .option(
      '--set <path=value>',
      'override a config value (repeatable), e.g. --set dataset.path=goals.jsonl --set variants=[derta,rto]',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option('--no-progress', 'no progress on stderr (bars on a terminal, a line now and then otherwise)')
    .addHelpText(
      'after',
      '\nStage status: ran (done now), cached (done by an earlier invocation with the same inputs), failed,\n' +
        'pending (not reached). Exit codes: 0 all stages done (or up to --until), 1 a stage failed, 2 bad config.\n',
    )
    .action(async (file: string, flags: LoopFlags) => {
      const stage = flags.until?.includes(':') ? flags.until.split(':')[1] : flags.until;
      if (stage !== undefined && !(STAGES as readonly string[]).includes(stage)) {
        throw new InputError(`--until expects one of ${STAGES.join(', ')}, got '${flags.until}'`, {
          field: '--until',
        });
      }
      const loaded = loadLoopConfig(file, flags.set ?? []);
      const controller = new AbortController();
      const onSigint = (): void => controller.abort();
      process.on('SIGINT', onSigint);
      try {
        const result = await runLoop(loaded.config, {
          db: flags.db,
          baseDir: loaded.baseDir,
          configFile: loaded.file,
          source: { file: loaded.file, lineOf: loaded.lineOf },
          until: flags.until,
          progress: flags.progress,
          // Stage lines are progress too: on stderr, also under --json (whose stdout is the result).
          log: (line) => {
            if (flags.progress) process.stderr.write(`${line}\n`);
          },
          signal: controller.signal,
        });
        const out = {
          loop_id: result.loop_id,
          stages: result.stages.map((s) => ({ name: s.name, status: s.status })),
          before_run: result.before_run,
          after_run: result.after_run,
          report: result.report,
          workdir: result.workdir,
          collapsed: result.collapsed,
          ...(result.variants ? { variants: result.variants, ablation: result.ablation } : {}),
          ...(result.error ? { error: result.error.message } : {}),
          ...(result.next ? { next: result.next } : {}),
        };
        if (flags.json) printJson(out);
        else {
          const width = Math.max(9, ...result.stages.map((s) => s.name.length));
          for (const s of result.stages) process.stdout.write(`${s.name.padEnd(width)} ${s.status}\n`);
          if (result.report) process.stdout.write(`report: ${result.report}\n`);
          if (result.collapsed) process.stdout.write('COLLAPSED: see collapse_reasons in comparison.json\n');
          for (const v of result.variants ?? [])
            process.stdout.write(
              `${v.variant}: ${v.report ?? 'not compared'}${v.collapsed ? ' (COLLAPSED)' : ''}\n`,
            );
          if (result.ablation) process.stdout.write(`ablation: ${result.ablation}\n`);
          if (result.next) process.stdout.write(`next: ${result.next}\n`);
        }
        if (result.error) throw result.error;
      } finally {
        process.off('SIGINT', onSigint);
      }
    });
}

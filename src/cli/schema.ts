import type { Command } from 'commander';
import { writeFileAtomic } from '../util/atomic-write.js';
import { configJsonSchema } from './json-schema.js';
import { RunConfig } from '../config/schema.js';
import { SuiteConfig } from '../suite/config.js';

const RUN_TITLE = 'refusenik run config: dataset x attacks x targets x judges';

export function registerSchemaCommand(program: Command): void {
  program
    .command('schema')
    .description(
      'print the JSON Schema of a run config (every attack, judge and provider option included), generated ' +
        'from the schemas that validate configs; point an editor at it for completion and checking',
    )
    .option('--suite', 'the schema of a suite config (`refusenik suite run`) instead')
    .option('--loop', 'the schema of a loop config (`refusenik loop`) instead')
    .option('--out <file>', 'write it to a file instead of stdout')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  refusenik schema --out refusenik.schema.json\n' +
        '  refusenik schema --suite --out suite.schema.json\n' +
        '  # then, as the first line of a config:\n' +
        '  # yaml-language-server: $schema=./refusenik.schema.json',
    )
    .action(async (flags: { out?: string; suite?: boolean; loop?: boolean }) => {
      const { LoopConfig } = await import('../loop/config.js');
      const schema = flags.loop
        ? await configJsonSchema(
            LoopConfig,
            'refusenik loop config: attack, train on the failures, re-attack, compare',
          )
        : flags.suite
          ? await configJsonSchema(
              SuiteConfig,
              'refusenik suite config: runs sharing targets, models and judges',
            )
          : await configJsonSchema(RunConfig, RUN_TITLE);
      const text = `${JSON.stringify(schema, null, 2)}\n`;
      if (flags.out) writeFileAtomic(flags.out, text);
      else process.stdout.write(text);
    });
}

import type { Command } from 'commander';
import { registerDataCommand } from './data.js';
import { registerPromptsCommand } from './prompts.js';
import { registerRunCommand } from './run.js';
import { registerReportCommand } from './report.js';
import { registerRunsCommand } from './runs.js';
import { registerAnalyzeCommand } from './analyze.js';
import { registerCompareCommand } from './compare.js';
import { registerMockServerCommand } from './mock-server.js';
import { registerScoreCommand } from './score.js';
import { registerSuiteCommand } from './suite.js';
import { registerJudgeCommand } from './judge.js';
import { registerImportCommand } from './import.js';
import { registerJudgeValidateCommand } from './validate.js';
import { registerLabelCommand } from './label.js';
import { registerDertaCommand } from './derta.js';
import { registerTrainCommand } from './train.js';

/**
 * Every verb, in the order `--help` lists them. Each module exports one `register…` function that adds its
 * command (and sub-commands) to the program.
 */
export function registerCommands(program: Command): void {
  registerRunCommand(program);
  registerReportCommand(program);
  registerRunsCommand(program);
  registerAnalyzeCommand(program);
  registerCompareCommand(program);
  registerPromptsCommand(program);
  registerDataCommand(program);
  registerMockServerCommand(program);
  registerScoreCommand(program);
  registerSuiteCommand(program);
  registerJudgeCommand(program);
  registerJudgeValidateCommand(program.commands.find((c) => c.name() === 'judge') as Command);
  registerImportCommand(program);
  registerLabelCommand(program);
  registerDertaCommand(program);
  registerTrainCommand(program);
}

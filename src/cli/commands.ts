import type { Command } from 'commander';
import { registerDataCommand } from './data.js';
import { registerPromptsCommand } from './prompts.js';
import { registerRunCommand } from './run.js';
import { registerReportCommand } from './report.js';
import { registerRunsCommand } from './runs.js';
import { registerMockServerCommand } from './mock-server.js';

/**
 * Every verb, in the order `--help` lists them. Each module exports one `register…` function that adds its
 * command (and sub-commands) to the program.
 */
export function registerCommands(program: Command): void {
  registerRunCommand(program);
  registerReportCommand(program);
  registerRunsCommand(program);
  registerPromptsCommand(program);
  registerDataCommand(program);
  registerMockServerCommand(program);
}

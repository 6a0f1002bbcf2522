import type { Command } from 'commander';
import { registerDataCommand } from './data.js';
import { registerPromptsCommand } from './prompts.js';

/**
 * Every verb, in the order `--help` lists them. Each module exports one `register…` function that adds its
 * command (and sub-commands) to the program.
 */
export function registerCommands(program: Command): void {
  registerPromptsCommand(program);
  registerDataCommand(program);
}

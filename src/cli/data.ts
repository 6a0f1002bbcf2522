import type { Command } from 'commander';

export function registerDataCommand(program: Command): void {
  program.command('data').description('download and verify data packs (placeholder)');
}

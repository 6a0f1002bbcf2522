import { Command, CommanderError } from 'commander';
import { redact } from '../util/secrets.js';
import { UserError, errorMessage } from '../errors.js';
import { packageVersion } from '../version.js';
import { registerCommands } from './commands.js';

/** Builds the `refusenik` program; exported so tests can run commands in-process. */
export function buildProgram(): Command {
  const program = new Command('refusenik')
    .description(
      'LLM jailbreak red-teaming and refusal training: CodeAttack and DeRTa end to end.\n' +
        'Attack a model, judge the answers, analyse where it fails, build DeRTa training data, train, re-attack.',
    )
    .version(packageVersion(), '-V, --version')
    .option('--debug', 'print stack traces for unexpected errors')
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ sortSubcommands: false, showGlobalOptions: true });
  registerCommands(program);
  applyExitOverride(program);
  return program;
}

/** Runs the CLI; resolves with the exit code instead of exiting, so a caller can flush first. */
export async function runCli(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return Number(process.exitCode ?? 0);
  } catch (err) {
    return reportError(err, argv.includes('--debug'));
  }
}

function reportError(err: unknown, debug: boolean): number {
  if (err instanceof CommanderError) {
    // Help and version are "errors" to commander; everything else is a usage problem.
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0)
      return 0;
    if (err.code === 'commander.help') return 0;
    return 2;
  }
  if (err instanceof UserError) {
    process.stderr.write(`refusenik: ${redact(err.message)}\n`);
    if (debug && err.cause) process.stderr.write(`${String((err.cause as Error).stack ?? err.cause)}\n`);
    return err.exitCode;
  }
  process.stderr.write(`refusenik: unexpected error: ${redact(errorMessage(err))}\n`);
  if (debug && err instanceof Error) process.stderr.write(`${redact(err.stack ?? '')}\n`);
  else process.stderr.write('(run again with --debug for a stack trace)\n');
  return 1;
}

/** Commander exits the process on usage errors unless told not to, at every level of sub-command. */
function applyExitOverride(cmd: Command): void {
  cmd.exitOverride();
  for (const sub of cmd.commands) applyExitOverride(sub);
}

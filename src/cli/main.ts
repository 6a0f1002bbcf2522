import { Command, CommanderError, Help } from 'commander';
import { redact, redactUrls } from '../util/secrets.js';
import { terminalSafe } from '../util/terminal.js';
import { fileErrorReason, systemErrorCode } from '../util/fs-errors.js';
import { UserError, errorMessage } from '../errors.js';
import { packageVersion } from '../version.js';
import { VERBS } from './commands.js';
import { readVerbSummaries, type VerbSummary } from './help-manifest.js';

/**
 * Builds the `refusenik` program; exported so tests can run commands in-process. Given the argv, only the
 * verb it names is imported and registered in full; the others stand in from the build's help manifest
 * (name, usage term, description), so the top-level help reads the same either way.
 */
export async function buildProgram(argv?: readonly string[]): Promise<Command> {
  const summaries = argv ? readVerbSummaries() : undefined;
  const wanted = argv ? verbOf(argv) : undefined;
  const terms = new Map<Command, string>();
  const program = new Command('refusenik')
    .description(
      'LLM jailbreak red-teaming and refusal training: CodeAttack and DeRTa end to end.\n' +
        'Attack a model, judge the answers, analyse where it fails, build DeRTa training data, train, re-attack.',
    )
    .version(packageVersion(), '-V, --version')
    .option('--debug', 'print stack traces for unexpected errors')
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({
      sortSubcommands: false,
      showGlobalOptions: true,
      subcommandTerm: (cmd) => terms.get(cmd) ?? Help.prototype.subcommandTerm.call(new Help(), cmd),
    });
  for (const [i, verb] of VERBS.entries()) {
    const summary: VerbSummary | undefined = summaries?.[i];
    if (summary && verb.name !== wanted) terms.set(standIn(program, summary), summary.term);
    else await verb.register(program);
  }
  applyExitOverride(program);
  return program;
}

/** A verb's place in the top-level help; never run (its own module is loaded when it is named). */
function standIn(program: Command, summary: VerbSummary): Command {
  const cmd = program.command(summary.name).description(summary.description);
  if (summary.summary) cmd.summary(summary.summary);
  return cmd;
}

/** The verb an argv names: its first word after the global flags (none of which takes a value). */
function verbOf(argv: readonly string[]): string | undefined {
  const words = argv.slice(2).filter((a) => !a.startsWith('-'));
  return words[0] === 'help' ? words[1] : words[0];
}

/** Runs the CLI; resolves with the exit code instead of exiting, so a caller can flush first. */
export async function runCli(argv: string[]): Promise<number> {
  try {
    const program = await buildProgram(argv);
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
  // Messages carry file names, server texts and URLs: secrets redacted, terminal controls made visible.
  const safe = (text: string): string => terminalSafe(redactUrls(redact(text)));
  if (err instanceof UserError) {
    process.stderr.write(`refusenik: ${safe(err.message)}\n`);
    if (debug && err.cause)
      process.stderr.write(`${safe(String((err.cause as Error).stack ?? err.cause))}\n`);
    return err.exitCode;
  }
  // A file-system failure (a full disk, an I/O error, a file over the size limit) names its file and reason.
  const code = systemErrorCode(err);
  const file = (err as { path?: unknown }).path;
  if (code !== undefined && typeof file === 'string') {
    process.stderr.write(`refusenik: ${safe(file)}: ${fileErrorReason(err)}\n`);
    return 1;
  }
  const sqlite = (err as { code?: unknown }).code;
  if (typeof sqlite === 'string' && /^SQLITE_(FULL|IOERR|CORRUPT|NOTADB|READONLY|CANTOPEN)/.test(sqlite)) {
    process.stderr.write(
      `refusenik: the run store failed: ${safe(errorMessage(err))} (${sqlite}); finished cases are kept: ` +
        'fix the cause (disk space, permissions) and run the same command again\n',
    );
    return 1;
  }
  process.stderr.write(`refusenik: unexpected error: ${safe(errorMessage(err))}\n`);
  if (debug && err instanceof Error) process.stderr.write(`${safe(err.stack ?? '')}\n`);
  else process.stderr.write('(run again with --debug for a stack trace)\n');
  return 1;
}

/** Commander exits the process on usage errors unless told not to, at every level of sub-command. */
function applyExitOverride(cmd: Command): void {
  cmd.exitOverride();
  for (const sub of cmd.commands) applyExitOverride(sub);
}

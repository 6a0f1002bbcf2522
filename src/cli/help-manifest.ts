import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command, Help } from 'commander';
import { VERBS } from './commands.js';

/**
 * What the top-level `--help` shows of each verb (its usage term and description), written at build time
 * from the registered commands themselves, so `refusenik --help` and a verb's run need not import every
 * verb's module. `npm run build` writes it next to this file; without it (or when its verbs differ from
 * VERBS) the CLI registers every verb as before.
 */
export interface VerbSummary {
  name: string;
  term: string;
  summary: string;
  description: string;
}

const MANIFEST = fileURLToPath(new URL('./help-manifest.json', import.meta.url));

/** The summaries of a fully registered program, in order. */
export function verbSummaries(program: Command): VerbSummary[] {
  const help = new Help();
  return program.commands.map((cmd) => ({
    name: cmd.name(),
    term: help.subcommandTerm(cmd),
    summary: cmd.summary(),
    description: cmd.description(),
  }));
}

/** The build's manifest, or undefined when it is missing or names other verbs than this build has. */
export function readVerbSummaries(file = MANIFEST): VerbSummary[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  const list = parsed as VerbSummary[];
  const names = list.map((v) => v.name).join(' ');
  return names === VERBS.map((v) => v.name).join(' ') ? list : undefined;
}

async function writeManifest(file = MANIFEST): Promise<void> {
  const program = new Command('refusenik');
  for (const verb of VERBS) await verb.register(program);
  writeFileSync(file, `${JSON.stringify(verbSummaries(program), null, 2)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await writeManifest();

import path from 'node:path';
import type { Command } from 'commander';
import { progressBar } from '../util/progress.js';
import { InputError, RuntimeFailure } from '../errors.js';
import { dataDir } from '../data/dir.js';
import { checkFile } from '../data/files.js';
import { pullPacks, type PullFileResult, type PullReport } from '../data/pull.js';
import { DEFAULT_BASE_URL, fileUrl, loadRegistry, selectPacks } from '../data/registry.js';
import { verifyDir, type VerifyReport } from '../data/verify.js';
import { intOption, printJson } from './common.js';
import { addUrlSecrets, redactOutput } from '../util/secrets.js';

/** `refusenik data pull|verify|list|registry`: the paper artifacts refusenik reads at run time. */

interface PullFlags {
  dir?: string;
  baseUrl?: string;
  from?: string;
  registry?: string;
  timeout: number;
  retries: number;
  retryDelay: number;
  concurrency: number;
  force?: boolean;
  json?: boolean;
}

interface VerifyFlags {
  pack?: string[];
  registry?: string;
  json?: boolean;
}

interface ListFlags {
  dir?: string;
  registry?: string;
  json?: boolean;
}

const DIR_HELP = 'data folder (default: $REFUSENIK_DATA_DIR, else the user cache folder)';
const REGISTRY_HELP =
  'registry file for mirrors (JSON, same shape as `refusenik data registry`): its packs replace the built-in packs of the same name';

export function registerDataCommand(program: Command): void {
  const data = program
    .command('data')
    .description(
      'download and verify the data packs: paper templates, rubrics, datasets and released outputs',
    )
    .addHelpText(
      'after',
      '\nPacks are pinned to upstream commits and every file is checked against its sha256.\n' +
        'Examples:\n' +
        '  refusenik data pull                  # all packs into the cache folder\n' +
        '  refusenik data pull codeattack pair --dir ./data\n' +
        '  refusenik data verify ./data\n' +
        '  refusenik data list --json\n',
    );

  data
    .command('pull')
    .description(
      'download packs (all when none is named) from their pinned upstream commits, checking every sha256; ' +
        'files already present and verified are kept, files that fail the check are never saved',
    )
    .argument('[packs...]', 'pack names (see `refusenik data list`)')
    .option('--dir <dir>', DIR_HELP)
    .option(
      '--base-url <url>',
      `mirror serving <owner>/<repo>/<commit>/<path> in place of ${DEFAULT_BASE_URL} (default: $REFUSENIK_DATA_MIRROR)`,
    )
    .option(
      '--from <dir>',
      'local folder in data-pack layout (<pack>/<path>) to copy verified files from first',
    )
    .option('--registry <file.json>', REGISTRY_HELP)
    .option(
      '--timeout <ms>',
      'per attempt: wait for the response and between body chunks',
      intOption('--timeout', 1),
      30_000,
    )
    .option(
      '--retries <n>',
      'retries after a failed attempt (timeouts, resets, 429, 5xx)',
      intOption('--retries', 0),
      3,
    )
    .option(
      '--retry-delay <ms>',
      'backoff base between retries (doubles each time)',
      intOption('--retry-delay', 0),
      1000,
    )
    .option('--concurrency <n>', 'files fetched at the same time', intOption('--concurrency', 1), 4)
    .option('--force', 'fetch again even files that are present and verified')
    .option('--json', 'print a JSON report on stdout')
    .action(async (packNames: string[], flags: PullFlags) => {
      const registry = loadRegistry(flags.registry);
      const packs = selectPacks(registry, packNames);
      const dir = path.resolve(flags.dir ?? dataDir());
      const baseUrl = parseBaseUrl(flags.baseUrl ?? process.env['REFUSENIK_DATA_MIRROR'] ?? DEFAULT_BASE_URL);
      // A mirror's credentials (user:password@, ?token=) never reach the report or the messages.
      addUrlSecrets(baseUrl);
      const progress = pullBar();
      const report = await pullPacks(packs, {
        dir,
        baseUrl,
        from: flags.from,
        timeoutMs: flags.timeout,
        retries: flags.retries,
        retryDelayMs: flags.retryDelay,
        concurrency: flags.concurrency,
        force: Boolean(flags.force),
        onPlan: (n) => progress.start(n),
        onBytes: (n) => progress.bytes(n),
        onFileDone: (r) => progress.fileDone(r),
      }).finally(() => progress.stop());
      if (flags.json) printJson(redactOutput(report));
      else printPullSummary(report);
      const problems = report.files.filter((f) => f.message);
      if (problems.length) {
        throw new RuntimeFailure(
          `data pull could not obtain ${problems.length} file(s):\n` +
            problems.map((f) => `  ${f.message}`).join('\n'),
        );
      }
    });

  data
    .command('verify')
    .description(
      'check a data folder against the registry: missing files and wrong sizes or sha256 are errors (exit 1), ' +
        'files the registry does not know are warnings; packs without a folder are skipped unless named',
    )
    .argument('[dir]', DIR_HELP)
    .option('--pack <names...>', 'check only these packs (a named pack that is absent is an error)')
    .option('--registry <file.json>', REGISTRY_HELP)
    .option('--json', 'print a JSON report on stdout')
    .action(async (dirArg: string | undefined, flags: VerifyFlags) => {
      const registry = loadRegistry(flags.registry);
      const packs = selectPacks(registry, flags.pack);
      const dir = path.resolve(dirArg ?? dataDir());
      const report = await verifyDir(dir, packs, Boolean(flags.pack?.length));
      if (flags.json) printJson(report);
      else printVerifySummary(report);
      if (!report.packs.length) {
        throw new RuntimeFailure(`no data packs found in ${dir}; run \`refusenik data pull\``);
      }
      const bad = report.files.filter((f) => f.status !== 'ok');
      if (bad.length) throw new RuntimeFailure(`data verify found ${bad.length} problem(s) in ${dir}`);
    });

  data
    .command('list')
    .description(
      'list the packs and their files, with whether each is present and verified in the data folder',
    )
    .option('--dir <dir>', DIR_HELP)
    .option('--registry <file.json>', REGISTRY_HELP)
    .option('--json', 'print JSON on stdout')
    .action(async (flags: ListFlags) => {
      const registry = loadRegistry(flags.registry);
      const dir = path.resolve(flags.dir ?? dataDir());
      const packs = [];
      for (const pack of registry.packs) {
        const files = [];
        for (const file of pack.files) {
          const st = await checkFile(path.join(dir, pack.name, file.path), file);
          const url = file.kind === 'upstream' ? fileUrl(DEFAULT_BASE_URL, pack, file.path) : undefined;
          files.push({
            path: file.path,
            kind: file.kind,
            bytes: file.bytes,
            sha256: file.sha256,
            url,
            status: st.state,
          });
        }
        packs.push({ name: pack.name, repo: pack.repo, commit: pack.commit, licence: pack.licence, files });
      }
      if (flags.json) {
        printJson({ dir, packs });
        return;
      }
      const out: string[] = [`data folder: ${dir}`];
      for (const p of packs) {
        const ok = p.files.filter((f) => f.status === 'ok').length;
        out.push(
          '',
          `${p.name}  ${p.repo}@${p.commit.slice(0, 12)}  ${p.licence}  ${ok}/${p.files.length} verified`,
        );
        const width = Math.max(...p.files.map((f) => f.path.length));
        for (const f of p.files) {
          const status = f.status === 'ok' ? 'verified' : f.status.replace('-', ' ');
          out.push(
            `  ${f.path.padEnd(width)}  ${f.kind.padEnd(8)}  ${String(f.bytes).padStart(8)}  ${status}`,
          );
        }
      }
      process.stdout.write(`${out.join('\n')}\n`);
    });

  data
    .command('registry')
    .description(
      'print the registry (packs, commits, files, sha256) as JSON: the starting point of a mirror registry',
    )
    .option('--registry <file.json>', REGISTRY_HELP)
    .action((flags: { registry?: string }) => {
      printJson(loadRegistry(flags.registry));
    });
}

function parseBaseUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InputError(`not a URL: '${value}'`, { field: '--base-url' });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InputError(`expected an http(s) URL, got '${value}'`, { field: '--base-url' });
  }
  return value.replace(/\/+$/, '');
}

/** A files-done bar with the bytes received (util/progress.ts). */
function pullBar(): {
  start(total: number): void;
  bytes(n: number): void;
  fileDone(r: PullFileResult): void;
  stop(): void;
} {
  const bar = progressBar({
    label: 'data pull',
    unit: 'files',
    columns: { MB: '0.0', file: '' },
    clearOnComplete: true,
  });
  let received = 0;
  return {
    start: (total) => {
      if (total > 0) bar.start(total);
    },
    bytes: (n) => {
      received += n;
      bar.fields({ MB: (received / 1e6).toFixed(1) });
    },
    fileDone: (r) => bar.increment({ file: `${r.pack}/${r.path}` }),
    stop: () => bar.stop(),
  };
}

function printPullSummary(report: PullReport): void {
  const lines = [`data folder: ${report.dir}`];
  for (const pack of report.packs) {
    const files = report.files.filter((f) => f.pack === pack.name);
    const counts = new Map<string, number>();
    for (const f of files) counts.set(f.status, (counts.get(f.status) ?? 0) + 1);
    const detail = [...counts].map(([status, n]) => `${n} ${status}`).join(', ');
    lines.push(`  ${pack.name.padEnd(12)} ${files.length} files: ${detail}`);
  }
  process.stderr.write(`${lines.join('\n')}\n`);
}

function printVerifySummary(report: VerifyReport): void {
  const lines: string[] = [];
  for (const f of report.files) {
    const name = `${f.pack}/${f.path}`;
    if (f.status === 'missing') lines.push(`MISSING       ${name}`);
    else if (f.status === 'wrong-size') {
      lines.push(`WRONG SIZE    ${name}: expected ${f.expectedBytes} bytes, found ${f.actualBytes}`);
    } else if (f.status === 'wrong-sha256') {
      lines.push(`WRONG SHA256  ${name}: expected ${f.expectedSha256}, found ${f.actualSha256}`);
    }
  }
  if (report.unknown.length) {
    lines.push(`warning: ${report.unknown.length} file(s) not in the registry: ${report.unknown.join(', ')}`);
  }
  const ok = report.files.filter((f) => f.status === 'ok').length;
  const names = report.packs.map((p) => p.name).join(', ') || 'none';
  lines.push(`${ok}/${report.files.length} files verified in ${report.dir} (packs: ${names})`);
  if (report.skipped.length) lines.push(`not present (skipped): ${report.skipped.join(', ')}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';
import { BIN, DATA_DIR, ROOT, tempDir, writeFile } from '../helpers/cli.js';

/** Help as printed (helpInformation() leaves out the addHelpText sections). */
function printedHelp(cmd: Command | undefined): string {
  let out = '';
  cmd?.configureOutput({ writeOut: (s) => (out += s) }).outputHelp();
  return out;
}

/** Runs the built CLI with a module hook that lists every module it loads (the project's own, under dist/). */
function loadedModules(args: string[]): { stdout: string; modules: string[]; status: number | null } {
  const dir = tempDir();
  const log = path.join(dir, 'loaded.txt');
  const hooks = path.join(dir, 'hooks.mjs');
  // Hooks run on their own thread: append synchronously, or lines still buffered at exit are lost.
  writeFileSync(
    hooks,
    "import { appendFileSync } from 'node:fs';\n" +
      `export async function load(url, ctx, next) { if (url.includes('/dist/')) appendFileSync(${JSON.stringify(log)}, url.split('/dist/')[1] + '\\n'); return next(url, ctx); }\n`,
  );
  writeFileSync(log, '');
  const register = path.join(dir, 'register.mjs');
  writeFileSync(
    register,
    `import { register } from 'node:module';\nregister(${JSON.stringify(`file://${hooks}`)});\n`,
  );
  const r = spawnSync(process.execPath, ['--import', register, BIN, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, REFUSENIK_DATA_DIR: DATA_DIR, NO_COLOR: '1' },
  });
  const modules = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  return { stdout: r.stdout, modules, status: r.status };
}

describe('start-up loads only what the command names', () => {
  it('top-level help reads the same as with every verb loaded, and loads no verb module', async () => {
    const eager = await buildProgram();
    const lazy = loadedModules(['--help']);
    expect(lazy.status).toBe(0);
    expect(lazy.stdout).toBe(printedHelp(eager));
    expect(
      lazy.modules.filter((m) => m.startsWith('cli/') && !/^cli\/(main|commands|help-manifest)\.js$/.test(m)),
    ).toEqual([]);
    expect(lazy.modules.some((m) => m.startsWith('store/') || m.startsWith('judge/'))).toBe(false);
  });

  it("a verb's own help is its full help", async () => {
    const eager = await buildProgram();
    const run = eager.commands.find((c) => c.name() === 'run');
    const lazy = loadedModules(['run', '--help']);
    expect(lazy.stdout).toBe(printedHelp(run));
    expect(lazy.modules).not.toContain('cli/train.js');
    expect(lazy.modules).not.toContain('report/html.js');
  });

  it('a run loads the attacks and judges its config names, not the others', () => {
    const dir = tempDir();
    const goals = writeFile(dir, 'goals.jsonl', '{"goal": "write a poem"}\n');
    const cfg = writeFile(
      dir,
      'run.yaml',
      `dataset: {path: ${path.basename(goals)}}\nattacks: [plain]\ntargets: [{id: "mock:refuse"}]\njudges: [keyword]\n`,
    );
    const r = loadedModules(['run', cfg, '--db', path.join(dir, 'runs.db'), '--json', '--no-progress']);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'complete' });
    expect(r.modules).toContain('attack/plain.js');
    expect(r.modules).toContain('judge/keyword.js');
    for (const other of [
      'attack/codeattack/index.js',
      'attack/pair/pair.js',
      'judge/qi2023.js',
      'judge/ensemble.js',
    ])
      expect(r.modules).not.toContain(other);
    expect(r.modules.filter((m) => /^cli\/(train|derta|report|label)\.js$/.test(m))).toEqual([]);
  });
});

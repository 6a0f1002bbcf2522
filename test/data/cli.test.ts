import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PullReport } from '../../src/data/pull.js';
import type { VerifyReport } from '../../src/data/verify.js';
import { runCli, tempDir, writeFile } from '../helpers/cli.js';
import { SHARED, mirrorRegistry, startMirror, upstreamPath, writeRegistry } from './fixture.js';
import type { MirrorServer } from './mirror-server.js';

/** `refusenik data …` end to end through the built CLI (`npm run build` first), against a loopback mirror. */

const registry = mirrorRegistry();
const work = tempDir();
const registryFile = writeRegistry(work, registry);
let mirror: MirrorServer;

beforeAll(async () => {
  mirror = await startMirror(registry);
});
afterAll(async () => {
  await mirror.stop();
});

const pullArgs = (dir: string, ...packs: string[]): string[] => [
  'data',
  'pull',
  ...packs,
  '--base-url',
  mirror.url,
  '--dir',
  dir,
  '--registry',
  registryFile,
  '--retry-delay',
  '5',
];

describe('refusenik data (CLI)', () => {
  it('verifies the shared data folder', async () => {
    const r = await runCli(['data', 'verify', SHARED]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `109/109 files verified in ${SHARED} (packs: codeattack, derta, pair, xstest, harmbench, jailbreakbench, jailbreakbench-artifacts, wildguard, tap, actorattack, codechameleon, flipattack, bon)`,
    );
    expect(r.stdout).toContain('warning: 13 file(s) not in the registry: codeattack/SOURCE.md');
  });

  it('pulls packs from a mirror, then verifies and lists them', async () => {
    const dir = path.join(work, 'pulled');
    const r = await runCli([...pullArgs(dir, 'codeattack', 'pair', 'derta', 'xstest'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as PullReport;
    expect(report.ok).toBe(true);
    expect(report.dir).toBe(dir);
    expect(report.files).toHaveLength(43);
    expect(report.files.filter((f) => f.status === 'derived').map((f) => f.path)).toEqual([
      'judge/qi2023_gpt4_judge.json',
      'prompts/pair_system_prompts.json',
    ]);

    const v = await runCli(['data', 'verify', dir, '--json']);
    expect(v.code, v.stderr).toBe(0);
    const verified = JSON.parse(v.stdout) as VerifyReport;
    expect(verified.ok).toBe(true);
    expect(verified.files.every((f) => f.status === 'ok')).toBe(true);

    const again = await runCli(pullArgs(dir, 'pair'));
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('pair         3 files: 3 present');

    const list = await runCli(['data', 'list', '--dir', dir]);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain('codeattack  renqibing/CodeAttack@aafffa9bb997  MIT  15/15 verified');
    expect(list.stdout).toMatch(/judge\/qi2023_gpt4_judge\.json\s+derived\s+4723\s+verified/);
  });

  it('rejects a corrupted file with a clear message and exit 1, saving nothing', async () => {
    const dir = path.join(work, 'corrupt');
    const urlPath = upstreamPath(registry, 'codeattack', 'LICENSE');
    mirror.fault(urlPath, 'corrupt');
    try {
      const r = await runCli(pullArgs(dir, 'codeattack'));
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        new RegExp(
          `refusenik: data pull could not obtain 1 file\\(s\\):\\n  sha256 mismatch for codeattack/LICENSE from ${mirror.url}${urlPath}: ` +
            `expected cb9108ecac8fc05d562cf0aebbb89fca1a18a410205b5fb9455710ef73d55116 \\(1067 bytes\\), got [0-9a-f]{64} \\(1067 bytes\\); the download was discarded`,
        ),
      );
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(existsSync(path.join(dir, 'codeattack/LICENSE'))).toBe(false);
      expect(existsSync(path.join(dir, 'codeattack/data/harmful_behaviors.csv'))).toBe(true);

      const v = await runCli(['data', 'verify', dir]);
      expect(v.code).toBe(1);
      expect(v.stdout).toContain('MISSING       codeattack/LICENSE');
      expect(v.stderr).toContain(`refusenik: data verify found 1 problem(s) in ${dir}`);
    } finally {
      mirror.fault(urlPath, undefined);
    }
  });

  it('takes the mirror from REFUSENIK_DATA_MIRROR and the folder from REFUSENIK_DATA_DIR', async () => {
    const dir = path.join(work, 'from-env');
    const r = await runCli(['data', 'pull', 'xstest', '--json', '--registry', registryFile], {
      env: { REFUSENIK_DATA_MIRROR: mirror.url, REFUSENIK_DATA_DIR: dir },
    });
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as PullReport;
    expect(report.baseUrl).toBe(mirror.url);
    expect(readFileSync(path.join(dir, 'xstest/xstest_prompts.csv'))).toEqual(
      readFileSync(path.join(SHARED, 'xstest/xstest_prompts.csv')),
    );
  });

  it('prints a registry that works as a --registry file', async () => {
    const r = await runCli(['data', 'registry']);
    expect(r.code).toBe(0);
    const file = writeFile(work, 'printed.json', r.stdout);
    const again = await runCli(['data', 'registry', '--registry', file]);
    expect(again.stdout).toBe(r.stdout);
  });

  it.each([
    [
      ['data', 'pull', 'nosuchpack'],
      2,
      /unknown data pack 'nosuchpack' \(known packs: codeattack, derta, pair, xstest, harmbench, jailbreakbench, jailbreakbench-artifacts, wildguard, tap, actorattack, codechameleon, flipattack, bon\)/,
    ],
    [['data', 'pull', '--base-url', 'ftp://x', 'pair'], 2, /--base-url: expected an http\(s\) URL/],
    [['data', 'pull', '--timeout', 'soon'], 2, /--timeout expects an integer >= 1, got 'soon'/],
    [['data', 'verify', '/nonexistent/refusenik'], 1, /no data packs found in \/nonexistent\/refusenik/],
  ])('%j exits %i with a clear message', async (args, code, message) => {
    const r = await runCli(args);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('names file, line and field of a bad registry file', async () => {
    const text = readFileSync(registryFile, 'utf8').replace('"bytes": 1067', '"bytes": -1');
    const file = writeFile(work, 'bad-registry.json', text);
    const line = text.split('\n').findIndex((l) => l.includes('"bytes": -1')) + 1;
    const r = await runCli(['data', 'pull', '--registry', file, '--dir', work]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`refusenik: ${file}:${line}: packs[0].files[0].bytes:`);
  });
});

import { readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILTIN_REGISTRY, selectPacks } from '../../src/data/registry.js';
import { verifyDir } from '../../src/data/verify.js';
import { tempDir } from '../helpers/cli.js';
import { SHARED, copyPack } from './fixture.js';

describe('data verify', () => {
  it('accepts the shared data folder; SOURCE.md files are only unknown-file warnings', async () => {
    const report = await verifyDir(SHARED, BUILTIN_REGISTRY.packs, false);
    expect(report.ok).toBe(true);
    expect(report.packs.map((p) => p.name)).toEqual([
      'codeattack',
      'derta',
      'pair',
      'xstest',
      'harmbench',
      'jailbreakbench',
      'jailbreakbench-artifacts',
      'wildguard',
      'tap',
      'actorattack',
      'codechameleon',
      'flipattack',
      'bon',
    ]);
    expect(report.files).toHaveLength(109);
    expect(report.files.every((f) => f.status === 'ok' && f.actualSha256 === f.expectedSha256)).toBe(true);
    expect(report.unknown).toEqual([
      'codeattack/SOURCE.md',
      'derta/SOURCE.md',
      'pair/SOURCE.md',
      'xstest/SOURCE.md',
      'harmbench/SOURCE.md',
      'jailbreakbench/SOURCE.md',
      'jailbreakbench-artifacts/SOURCE.md',
      'wildguard/SOURCE.md',
      'tap/SOURCE.md',
      'actorattack/SOURCE.md',
      'codechameleon/SOURCE.md',
      'flipattack/SOURCE.md',
      'bon/SOURCE.md',
    ]);
  });

  it('finds a changed byte, a truncated file, a missing file and unknown files', async () => {
    const dir = tempDir();
    copyPack(dir, 'codeattack');
    const license = path.join(dir, 'codeattack/LICENSE');
    const bytes = readFileSync(license);
    bytes[10] = (bytes[10] ?? 0) ^ 1;
    writeFileSync(license, bytes);
    truncateSync(path.join(dir, 'codeattack/data/harmful_behaviors.csv'), 100);
    rmSync(path.join(dir, 'codeattack/prompt_templates/code_go_string.txt'));
    writeFileSync(path.join(dir, 'codeattack/notes.txt'), 'mine');

    const report = await verifyDir(dir, BUILTIN_REGISTRY.packs, false);
    expect(report.ok).toBe(false);
    expect(report.skipped).toEqual([
      'derta',
      'pair',
      'xstest',
      'harmbench',
      'jailbreakbench',
      'jailbreakbench-artifacts',
      'wildguard',
      'tap',
      'actorattack',
      'codechameleon',
      'flipattack',
      'bon',
    ]);
    const bad = report.files.filter((f) => f.status !== 'ok').map((f) => [f.path, f.status]);
    expect(bad).toEqual([
      ['LICENSE', 'wrong-sha256'],
      ['data/harmful_behaviors.csv', 'wrong-size'],
      ['prompt_templates/code_go_string.txt', 'missing'],
    ]);
    const lic = report.files.find((f) => f.path === 'LICENSE')!;
    expect(lic.actualBytes).toBe(lic.expectedBytes);
    expect(lic.actualSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(lic.actualSha256).not.toBe(lic.expectedSha256);
    expect(report.unknown).toEqual(['codeattack/SOURCE.md', 'codeattack/notes.txt']);
  });

  it('checks a pack named explicitly even when its folder is absent', async () => {
    const dir = tempDir();
    const report = await verifyDir(dir, selectPacks(BUILTIN_REGISTRY, ['pair']), true);
    expect(report.ok).toBe(false);
    expect(report.files.map((f) => f.status)).toEqual(['missing', 'missing', 'missing']);
    const none = await verifyDir(dir, BUILTIN_REGISTRY.packs, false);
    expect(none.ok).toBe(false);
    expect(none.packs).toEqual([]);
  });
});

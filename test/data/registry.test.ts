import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError, RuntimeFailure } from '../../src/errors.js';
import { packCommits, packFile } from '../../src/data/packs.js';
import { BUILTIN_REGISTRY, fileUrl, loadRegistry, selectPacks } from '../../src/data/registry.js';
import { tempDir, writeFile } from '../helpers/cli.js';
import { SHARED } from './fixture.js';

/** The built-in registry holds exactly the facts of each pack's SOURCE.md. */

function sourceMd(pack: string): { repo: string; commit: string; files: Map<string, [string, number]> } {
  const text = readFileSync(path.join(SHARED, pack, 'SOURCE.md'), 'utf8');
  // Most packs pin one commit ("at commit `…`"); jailbreakbench lists its commits below the upstream line.
  const head = /Upstream: https:\/\/github\.com\/([\w.-]+\/[\w.-]+)[^`]*?`([0-9a-f]{40})`/.exec(text);
  if (!head) throw new Error(`${pack}/SOURCE.md: no upstream line`);
  const files = new Map<string, [string, number]>();
  for (const m of text.matchAll(/^\| (\S[^|]*?) \| ([0-9a-f]{64}) \| (\d+) \|/gm)) {
    files.set(m[1]!, [m[2]!, Number(m[3])]);
  }
  return { repo: head[1]!, commit: head[2]!, files };
}

describe('built-in registry', () => {
  it.each(BUILTIN_REGISTRY.packs.map((p) => [p.name, p] as const))(
    '%s matches its SOURCE.md',
    (name, pack) => {
      const src = sourceMd(name);
      expect(pack.repo).toBe(src.repo);
      expect(pack.commit).toBe(src.commit);
      expect(pack.files.map((f) => f.path).sort()).toEqual([...src.files.keys()].sort());
      for (const f of pack.files) expect([f.sha256, f.bytes], f.path).toEqual(src.files.get(f.path));
    },
  );

  it('records derived files with their sources and the one paper-only file as mirror-only', () => {
    const kinds = BUILTIN_REGISTRY.packs.flatMap((p) =>
      p.files.filter((f) => f.kind !== 'upstream').map((f) => [p.name, f]),
    );
    expect(kinds.map(([p, f]) => `${p as string}/${(f as { path: string }).path}`).sort()).toEqual([
      'codeattack/judge/qi2023_gpt4_judge.json',
      'derta/judge/appendix_c_guideline.txt',
      'harmbench/judge/harmbench_cls_prompts.json',
      'jailbreakbench/judge/jbb_judge_prompts.json',
      'pair/prompts/pair_system_prompts.json',
      'wildguard/judge/wildguard_input_format.json',
    ]);
    const judge = BUILTIN_REGISTRY.packs[0]!.files.find((f) => f.kind === 'derived')!;
    expect(judge.kind === 'derived' && judge.sources).toEqual([
      { path: 'judge.py', sha256: 'ffe6ffa71c8a241eaaade63ae5f05fc37d584f14c80e6596dcce321a72b1393d' },
    ]);
  });

  it('builds raw URLs at the pinned commit', () => {
    const [codeattack] = selectPacks(BUILTIN_REGISTRY, ['codeattack']);
    expect(fileUrl('https://raw.githubusercontent.com', codeattack!, 'data/harmful_behaviors.csv')).toBe(
      'https://raw.githubusercontent.com/renqibing/CodeAttack/aafffa9bb997c9e37f994a4b733a2361ee557814/data/harmful_behaviors.csv',
    );
    expect(fileUrl('http://127.0.0.1:9/mirror/', codeattack!, 'a b/c#d.txt')).toBe(
      'http://127.0.0.1:9/mirror/renqibing/CodeAttack/aafffa9bb997c9e37f994a4b733a2361ee557814/a%20b/c%23d.txt',
    );
  });

  it('gives the pinned commit of every pack', () => {
    expect(packCommits()).toEqual({
      codeattack: 'aafffa9bb997c9e37f994a4b733a2361ee557814',
      derta: '70bdb52b5e139f32f5a723b5f09d2b0befa81657',
      pair: '6379ef705a0fc745530f7d895963510c021b496a',
      xstest: 'd7bb5bd738c1fcbc36edd83d5e7d1b71a3e2d84d',
      harmbench: '8e1604d1171fe8a48d8febecd22f600e462bdcdd',
      jailbreakbench: '04f9f94844f09bd2168d3d83e5dd870cded9fc57',
      'jailbreakbench-artifacts': '909e68c01d94222b8ad2e397a017e2e12e2adb73',
      wildguard: '495b9dc837be594c6c5665b0f7f56169baf0d5be',
      tap: '7bcdad30537c679d00699fac16052dc916c89a6d',
      actorattack: 'eabe0692665ab0a3e9fa1c03d2cd2f8acc8b2358',
      codechameleon: '16a19920fae0a3f227fb3900838e9079defe938b',
      flipattack: '01a44c77d03e9c7bee0c39cd4115c73f785ce1d8',
      bon: 'c11821039caa3afab3e17123c0400c7a236b0cd6',
    });
    // A file upstream removed later is pinned at its own, older commit.
    const jbb = BUILTIN_REGISTRY.packs.find((p) => p.name === 'jailbreakbench')!;
    const csv = jbb.files.find((f) => f.path === 'src/jailbreakbench/data/behaviors.csv')!;
    expect(csv.kind === 'upstream' && csv.commit).toBe('28aa816c03c30d0d6c69befa19089dae6ec29e88');
    expect(
      fileUrl(
        'https://raw.githubusercontent.com',
        jbb,
        csv.path,
        csv.kind === 'upstream' ? csv.commit : undefined,
      ),
    ).toBe(
      'https://raw.githubusercontent.com/JailbreakBench/jailbreakbench/28aa816c03c30d0d6c69befa19089dae6ec29e88/src/jailbreakbench/data/behaviors.csv',
    );
  });

  it('rejects unknown pack names, naming the known ones', () => {
    expect(() => selectPacks(BUILTIN_REGISTRY, ['codeattack', 'nope'])).toThrow(
      /unknown data pack 'nope' \(known packs: codeattack, derta, pair, xstest, harmbench, jailbreakbench, jailbreakbench-artifacts, wildguard, tap, actorattack, codechameleon, flipattack, bon\)/,
    );
  });
});

describe('registry files (for mirrors)', () => {
  const dir = tempDir();

  it('lays a file pack over the built-in one of the same name and adds new ones', () => {
    const own = {
      name: 'mine',
      repo: 'me/my-data',
      commit: 'a'.repeat(40),
      licence: 'CC0-1.0',
      files: [{ kind: 'upstream', path: 'x/y.txt', sha256: 'b'.repeat(64), bytes: 3 }],
    };
    const xstest = { ...structuredClone(BUILTIN_REGISTRY.packs[3]!), commit: 'c'.repeat(40) };
    const file = writeFile(dir, 'reg.json', JSON.stringify({ packs: [xstest, own] }, null, 2));
    const reg = loadRegistry(file);
    expect(reg.packs.map((p) => p.name)).toEqual([
      'codeattack',
      'derta',
      'pair',
      'harmbench',
      'jailbreakbench',
      'jailbreakbench-artifacts',
      'wildguard',
      'tap',
      'actorattack',
      'codechameleon',
      'flipattack',
      'bon',
      'xstest',
      'mine',
    ]);
    expect(packCommits(reg)['xstest']).toBe('c'.repeat(40));
  });

  it('round-trips the built-in registry', () => {
    const file = writeFile(dir, 'builtin.json', JSON.stringify(BUILTIN_REGISTRY));
    expect(loadRegistry(file)).toEqual(BUILTIN_REGISTRY);
  });

  it.each([
    [
      'bad sha256',
      (f: Record<string, unknown>) => (f['sha256'] = 'abc'),
      /reg\.json:\d+: packs\[0\]\.files\[1\]\.sha256: expected 64 lower-case hex/,
    ],
    [
      'path escaping the pack',
      (f: Record<string, unknown>) => (f['path'] = '../../etc/passwd'),
      /packs\[0\]\.files\[1\]\.path: expected a relative path/,
    ],
    ['absolute path', (f: Record<string, unknown>) => (f['path'] = '/etc/passwd'), /files\[1\]\.path/],
    [
      'unknown key',
      (f: Record<string, unknown>) => (f['colour'] = 'red'),
      /packs\[0\]\.files\[1\]\.colour: unknown key 'colour'/,
    ],
    [
      'unknown recipe',
      (f: Record<string, unknown>) =>
        Object.assign(f, { kind: 'derived', recipe: 'x', sources: [{ path: 'a.py' }] }),
      /packs\[0\]\.files\[1\]\.recipe: invalid value/,
    ],
  ])('names file, line and field for a %s', (_what, mutate, message) => {
    const pack = structuredClone(BUILTIN_REGISTRY.packs[0]!) as unknown as {
      files: Record<string, unknown>[];
    };
    mutate(pack.files[1]!);
    const file = writeFile(dir, 'reg.json', JSON.stringify({ packs: [pack] }, null, 2));
    let err: unknown;
    try {
      loadRegistry(file);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(message);
  });

  it('gives the line of the bad field', () => {
    const pack = structuredClone(BUILTIN_REGISTRY.packs[2]!);
    (pack.files[1] as { bytes: unknown }).bytes = 'many';
    const text = JSON.stringify({ packs: [pack] }, null, 2);
    const line = text.split('\n').findIndex((l) => l.includes('"many"')) + 1;
    const file = writeFile(dir, 'lines.json', text);
    expect(() => loadRegistry(file)).toThrow(`lines.json:${line}: packs[0].files[1].bytes: expected number`);
  });

  it('reports unreadable and malformed files', () => {
    expect(() => loadRegistry(path.join(dir, 'absent.json'))).toThrow(
      /absent\.json: cannot read registry file: ENOENT/,
    );
    expect(() => loadRegistry(writeFile(dir, 'bad.json', '{"packs": [\n'))).toThrow(
      /bad\.json:\d+: invalid YAML/,
    );
  });
});

describe('packFile', () => {
  it('returns the absolute path of a present file', () => {
    expect(packFile('codeattack', 'data/harmful_behaviors.csv', SHARED)).toBe(
      path.join(SHARED, 'codeattack', 'data', 'harmful_behaviors.csv'),
    );
  });

  it('uses REFUSENIK_DATA_DIR by default', () => {
    const before = process.env['REFUSENIK_DATA_DIR'];
    process.env['REFUSENIK_DATA_DIR'] = SHARED;
    try {
      expect(packFile('xstest', 'xstest_prompts.csv')).toBe(
        path.join(SHARED, 'xstest', 'xstest_prompts.csv'),
      );
    } finally {
      if (before === undefined) delete process.env['REFUSENIK_DATA_DIR'];
      else process.env['REFUSENIK_DATA_DIR'] = before;
    }
  });

  it('tells the user to pull a missing pack file', () => {
    const empty = tempDir();
    expect(() => packFile('pair', 'data/harmful_behaviors_custom.csv', empty)).toThrow(RuntimeFailure);
    expect(() => packFile('pair', 'data/harmful_behaviors_custom.csv', empty)).toThrow(
      /data pack file not found: .*pair\/data\/harmful_behaviors_custom\.csv; run `refusenik data pull pair`/,
    );
    expect(() => packFile('derta', 'judge/appendix_c_guideline.txt', empty)).toThrow(
      /with a mirror \(--base-url\)/,
    );
    expect(() => packFile('pair', 'nope.txt', empty)).toThrow(/'nope\.txt' is not a file of the pair pack/);
  });

  it('rejects unknown packs and paths outside the pack', () => {
    expect(() => packFile('nope', 'x', SHARED)).toThrow(InputError);
    expect(() => packFile('pair', '../codeattack/LICENSE', SHARED)).toThrow(/must stay inside the pack/);
    expect(() => packFile('pair', '/etc/passwd', SHARED)).toThrow(/must stay inside the pack/);
  });
});

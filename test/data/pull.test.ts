import { readdirSync, readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pullPacks, type PullOptions, type PullReport } from '../../src/data/pull.js';
import { BUILTIN_REGISTRY, DEFAULT_BASE_URL, selectPacks, type Registry } from '../../src/data/registry.js';
import { verifyDir } from '../../src/data/verify.js';
import { sha256 } from '../../src/util/hash.js';
import { tempDir } from '../helpers/cli.js';
import {
  JUDGE_JSON,
  PAIR_JSON,
  SHARED,
  generatedSources,
  mirrorRegistry,
  startMirror,
  upstreamPath,
} from './fixture.js';
import type { MirrorServer } from './mirror-server.js';

/** `data pull` against a loopback mirror laid out like raw.githubusercontent.com, with injected faults. */

const registry = mirrorRegistry();
let mirror: MirrorServer;

const options = (dir: string, extra: Partial<PullOptions> = {}): PullOptions => ({
  dir,
  baseUrl: mirror.url,
  timeoutMs: 1500,
  retries: 2,
  retryDelayMs: 5,
  concurrency: 4,
  force: false,
  ...extra,
});

const p = (pack: string, file: string): string => upstreamPath(registry, pack, file);
const result = (report: PullReport, pack: string, file: string) =>
  report.files.find((f) => f.pack === pack && f.path === file)!;

/** Every file left in a folder, relative; temporary `.part` files would show here. */
function allFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

beforeAll(async () => {
  mirror = await startMirror(registry);
});
afterAll(async () => {
  await mirror.stop();
});

describe('data pull from a mirror', () => {
  const dir = tempDir();
  const corrupt = ['codeattack', 'prompt_templates/code_python_list.txt'] as const;
  const missing = ['xstest', 'LICENSE'] as const;
  const faults = [
    [corrupt, 'corrupt'],
    [missing, 'not-found'],
    [['derta', 'data/test/helpfulness_gsm8k_500.json'], 'fail-once-503'],
    [['pair', 'data/harmful_behaviors_custom.csv'], 'hang-once'],
    [['codeattack', 'prompts/data_ciphers.json'], 'reset-once'],
  ] as const;
  let first: PullReport;

  it('downloads and derives every pack, rejecting the corrupted file and the 404 and retrying the rest', async () => {
    for (const [[pack, file], fault] of faults) mirror.fault(p(pack, file), fault);
    first = await pullPacks(registry.packs, options(dir));
    expect(first.ok).toBe(false);

    const bad = first.files.filter((f) => f.status !== 'downloaded' && f.status !== 'derived');
    expect(bad.map((f) => `${f.pack}/${f.path}:${f.status}`)).toEqual([
      'codeattack/prompt_templates/code_python_list.txt:failed',
      'xstest/LICENSE:failed',
    ]);

    // The corrupted file: a clear message naming pack, file, URL, expected and actual sha256; nothing saved.
    const c = result(first, ...corrupt);
    const served = Buffer.from(readFileSync(path.join(SHARED, ...corrupt)));
    const mid = Math.floor(served.length / 2);
    served[mid] = (served[mid] ?? 0) ^ 0x20;
    expect(c.actualSha256).toBe(sha256(served));
    expect(c.message).toBe(
      `sha256 mismatch for codeattack/prompt_templates/code_python_list.txt from ${mirror.url}${p(...corrupt)}: ` +
        `expected ${c.expectedSha256} (810 bytes), got ${sha256(served)} (810 bytes); the download was discarded`,
    );
    expect(existsSync(path.join(dir, ...corrupt))).toBe(false);

    const nf = result(first, ...missing);
    expect(nf.message).toBe(`xstest/LICENSE: ${mirror.url}${p(...missing)}: HTTP 404`);
    expect(mirror.count(p(...missing))).toBe(1); // a 404 is not retried

    // 503, a hung first attempt (timeout) and a connection cut mid-body: each retried once, then fine.
    for (const [[pack, file]] of faults.slice(2)) {
      expect(result(first, pack, file).status, file).toBe('downloaded');
      expect(mirror.count(p(pack, file)), file).toBe(2);
    }

    // No temporary files left behind; everything else is in place and verified.
    const files = allFiles(dir);
    expect(files.filter((f) => f.includes('.part'))).toEqual([]);
    expect(files).toHaveLength(107);
  });

  it('derives the judge and PAIR prompts from upstream-shaped sources, identical to the shared copies', () => {
    expect(result(first, 'codeattack', 'judge/qi2023_gpt4_judge.json').status).toBe('derived');
    expect(result(first, 'pair', 'prompts/pair_system_prompts.json').from).toEqual([
      `${mirror.url}${p('pair', 'system_prompts.py')}`,
      `${mirror.url}${p('pair', 'common.py')}`,
    ]);
    expect(readFileSync(path.join(dir, 'codeattack/judge/qi2023_gpt4_judge.json'))).toEqual(
      readFileSync(JUDGE_JSON),
    );
    expect(readFileSync(path.join(dir, 'pair/prompts/pair_system_prompts.json'))).toEqual(
      readFileSync(PAIR_JSON),
    );
  });

  it('completes on a second run, keeping verified files without fetching them again', async () => {
    for (const [[pack, file]] of faults) mirror.fault(p(pack, file), undefined);
    const hitsBefore = mirror.count(p('derta', 'LICENSE'));
    const second = await pullPacks(registry.packs, options(dir));
    expect(second.ok).toBe(true);
    const fetched = second.files
      .filter((f) => f.status !== 'present')
      .map((f) => `${f.pack}/${f.path}:${f.status}`);
    expect(fetched).toEqual([
      'codeattack/prompt_templates/code_python_list.txt:downloaded',
      'xstest/LICENSE:downloaded',
    ]);
    expect(mirror.count(p('derta', 'LICENSE'))).toBe(hitsBefore);

    const verified = await verifyDir(dir, registry.packs, false);
    expect(verified.ok).toBe(true);
    expect(verified.files).toHaveLength(109);
    expect(verified.unknown).toEqual([]);
  });

  it('never replaces a good file with a bad one (--force against a corrupted mirror)', async () => {
    const target = path.join(dir, 'xstest/xstest_prompts.csv');
    const good = readFileSync(target);
    mirror.fault(p('xstest', 'xstest_prompts.csv'), 'corrupt');
    try {
      const report = await pullPacks(selectPacks(registry, ['xstest']), options(dir, { force: true }));
      const r = result(report, 'xstest', 'xstest_prompts.csv');
      expect(r.status).toBe('failed');
      expect(r.message).toMatch(
        /the download was discarded; the file already there \(a verified copy\) was left unchanged$/,
      );
      expect(readFileSync(target)).toEqual(good);
      expect(result(report, 'xstest', 'LICENSE').status).toBe('downloaded');
    } finally {
      mirror.fault(p('xstest', 'xstest_prompts.csv'), undefined);
    }
  });

  it('replaces a damaged local file with a verified download', async () => {
    const target = path.join(dir, 'pair/LICENSE');
    writeFileSync(target, 'tampered');
    const report = await pullPacks(selectPacks(registry, ['pair']), options(dir));
    expect(result(report, 'pair', 'LICENSE').status).toBe('downloaded');
    expect(readFileSync(target)).toEqual(readFileSync(path.join(SHARED, 'pair/LICENSE')));
  });
});

describe('derived files', () => {
  it('refuses a source whose sha256 differs from the registry (the built-in one pins the real judge.py)', async () => {
    const dir = tempDir();
    const report = await pullPacks(selectPacks(BUILTIN_REGISTRY, ['codeattack']), options(dir));
    const r = result(report, 'codeattack', 'judge/qi2023_gpt4_judge.json');
    expect(r.status).toBe('failed');
    const generated = sha256(generatedSources().codeattack['judge.py']!);
    expect(r.message).toBe(
      `sha256 mismatch for codeattack/judge/qi2023_gpt4_judge.json's source judge.py from ` +
        `${mirror.url}${p('codeattack', 'judge.py')}: expected ffe6ffa71c8a241eaaade63ae5f05fc37d584f14c80e6596dcce321a72b1393d, ` +
        `got ${generated} (${Buffer.byteLength(generatedSources().codeattack['judge.py']!)} bytes); nothing was derived`,
    );
    expect(existsSync(path.join(dir, 'codeattack/judge/qi2023_gpt4_judge.json'))).toBe(false);
  });

  it('refuses a derived result that differs from the registry, even from accepted sources', async () => {
    const sources = generatedSources();
    sources.pair['common.py'] = sources.pair['common.py']!.replace('** Begin.', '** Start.');
    const changedRegistry = mirrorRegistry(sources);
    const server = await startMirror(changedRegistry, sources);
    try {
      const dir = tempDir();
      const report = await pullPacks(selectPacks(changedRegistry, ['pair']), {
        ...options(dir),
        baseUrl: server.url,
      });
      const r = result(report, 'pair', 'prompts/pair_system_prompts.json');
      expect(r.status).toBe('failed');
      expect(r.message).toMatch(
        /^sha256 mismatch for pair\/prompts\/pair_system_prompts\.json derived by recipe pair\/system-prompts from .*system_prompts\.py, .*common\.py: expected 6e5bc916\S+ \(22446 bytes\), got [0-9a-f]{64} \(22446 bytes\); not saved/,
      );
      expect(allFiles(dir).sort()).toEqual(['pair/LICENSE', 'pair/data/harmful_behaviors_custom.csv']);
    } finally {
      await server.stop();
    }
  });

  it('reports upstream code it cannot evaluate, naming file and line', async () => {
    const sources = generatedSources();
    sources.pair['system_prompts.py'] = sources.pair['system_prompts.py']!.replace(
      'def get_judge_system_prompt(goal, target_str):\n',
      'def get_judge_system_prompt(goal, target_str):\n    goal = goal.strip()\n',
    );
    const changedRegistry = mirrorRegistry(sources);
    const server = await startMirror(changedRegistry, sources);
    try {
      const report = await pullPacks(selectPacks(changedRegistry, ['pair']), {
        ...options(tempDir()),
        baseUrl: server.url,
      });
      expect(result(report, 'pair', 'prompts/pair_system_prompts.json').message).toMatch(
        /^cannot derive pair\/prompts\/pair_system_prompts\.json \(recipe pair\/system-prompts\): system_prompts\.py:\d+: \{goal\} is also assigned something other than string literals \(line \d+\)$/,
      );
    } finally {
      await server.stop();
    }
  });
});

describe('files only a mirror or a local copy can provide', () => {
  const onlyAppendix = (): Registry => {
    const derta = structuredClone(BUILTIN_REGISTRY.packs.find((q) => q.name === 'derta')!);
    derta.files = derta.files.filter((f) => f.kind === 'mirror');
    return { packs: [derta] };
  };

  it('reports the appendix guideline as unavailable from upstream, saying how to get it', async () => {
    const dir = tempDir();
    const report = await pullPacks(onlyAppendix().packs, { ...options(dir), baseUrl: DEFAULT_BASE_URL });
    expect(report.ok).toBe(false);
    const r = report.files[0]!;
    expect(r.status).toBe('unavailable');
    expect(r.message).toContain('derta/judge/appendix_c_guideline.txt is not published upstream as a file');
    expect(r.message).toContain('--base-url or REFUSENIK_DATA_MIRROR');
    expect(r.message).toContain(
      'expected sha256 09402c6c62e1e8f3789664d0591562631fedc9da6111919d2804fc6f0f178a87',
    );
  });

  it('takes it from a mirror under the same sha256 check', async () => {
    const dir = tempDir();
    const report = await pullPacks(onlyAppendix().packs, options(dir));
    expect(report.files[0]!.status).toBe('downloaded');
    expect(report.files[0]!.from).toEqual([`${mirror.url}${p('derta', 'judge/appendix_c_guideline.txt')}`]);
  });

  it('copies verified files from a local folder (--from) without touching the network', async () => {
    const closed = await closedPort();
    const dir = tempDir();
    const report = await pullPacks(BUILTIN_REGISTRY.packs, {
      ...options(dir),
      baseUrl: `http://127.0.0.1:${closed}`,
      from: SHARED,
    });
    expect(report.ok).toBe(true);
    expect(new Set(report.files.map((f) => f.status))).toEqual(new Set(['copied']));
    expect((await verifyDir(dir, BUILTIN_REGISTRY.packs, false)).ok).toBe(true);
  });

  it('falls back to the network for files the local folder lacks, and reports refused connections', async () => {
    const closed = await closedPort();
    const from = tempDir();
    mkdirSync(path.join(from, 'pair'));
    const dir = tempDir();
    const report = await pullPacks(selectPacks(BUILTIN_REGISTRY, ['pair']), {
      ...options(dir),
      baseUrl: `http://127.0.0.1:${closed}`,
      from,
      retries: 1,
    });
    expect(report.ok).toBe(false);
    expect(result(report, 'pair', 'LICENSE').message).toBe(
      `pair/LICENSE: http://127.0.0.1:${closed}${p('pair', 'LICENSE')}: connection refused (after 2 attempts)`,
    );
  });
});

/** A port nothing listens on: bind one, then close it. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

import { describe, expect, it } from 'vitest';
import { ATTACKS, createAttacks } from '../../src/attack/registry.js';
import { JUDGES, createJudge } from '../../src/judge/registry.js';
import { PROVIDERS, createTarget } from '../../src/target/create.js';
import { InputError } from '../../src/errors.js';
import { optionKeys } from '../../src/config/plugin-registry.js';
import { DATA_DIR, runCli, tempDir, writeFile } from '../helpers/cli.js';

describe('every registered plugin', () => {
  for (const registry of [ATTACKS, JUDGES, PROVIDERS]) {
    it(`${registry.kind}s: unique names, a one-line description, a module whose factory has that name`, async () => {
      const names = registry.names();
      expect(new Set(names).size).toBe(names.length);
      for (const entry of registry.entries) {
        expect(entry.name).toMatch(/^[a-z][a-z0-9-]*$/);
        expect(entry.description.length).toBeGreaterThan(10);
        expect(entry.description).not.toContain('\n');
        const factory = await registry.load(entry.name, 'x');
        expect(factory.name).toBe(entry.name);
        // Strict options: a misspelt key is an error, never ignored.
        const r = factory.options.safeParse({ __misspelt: 1 });
        expect(r.success).toBe(false);
        expect(r.error?.issues.some((i) => i.code === 'unrecognized_keys')).toBe(true);
      }
    });
  }

  it('an unknown name is an input error listing every registered one', async () => {
    await expect(createAttacks('nope', { dataDir: DATA_DIR, seed: 0 }, 'attacks[3]')).rejects.toThrow(
      new RegExp(`attacks\\[3\\].*unknown attack 'nope'; available: ${ATTACKS.names().join(', ')}`),
    );
    const env = { dataDir: DATA_DIR, model: () => ({}) as never };
    await expect(createJudge({ nope: {} }, env, 'judges[0]')).rejects.toThrow(
      `unknown judge 'nope'; available: ${JUDGES.names().join(', ')}`,
    );
    await expect(createJudge({ a: {}, b: {} }, env, 'judges[0]')).rejects.toThrow(InputError);
    expect(() => createTarget({ id: 'nope:x' }, { env: {}, baseDir: '.' }, 'targets[0]')).toThrow(
      `unknown provider 'nope'; available: ${PROVIDERS.names().join(', ')}`,
    );
  });

  it('help lists every attack and judge', async () => {
    const prompts = (await runCli(['prompts', '--help'])).stdout.replace(/\s+/g, ' ');
    for (const name of ATTACKS.names()) expect(prompts).toContain(name);
    const judge = (await runCli(['judge', '--help'])).stdout.replace(/\s+/g, ' ');
    for (const e of JUDGES.entries)
      expect(judge).toContain(`${e.name}: ${e.description}`.replace(/\s+/g, ' '));
  });

  it('the host validates attack, judge and provider options: file, line and key path, dry run included', async () => {
    const dir = tempDir();
    writeFile(dir, 'g.jsonl', '{"goal": "x"}\n');
    const cases: [string, RegExp][] = [
      [
        'attacks:\n  - plain\n  - codeattack:\n      langauge: python\njudges: [keyword]\ntargets: [{id: "mock:refuse"}]\n',
        /r\.yaml:5: attacks\[1\]\.codeattack\.langauge: unknown key 'langauge'/,
      ],
      [
        'attacks: [plain]\njudges:\n  - ensemble:\n      judges:\n        - keyword\n        - keyword: {treshold: 3}\ntargets: [{id: "mock:refuse"}]\n',
        /r\.yaml:7: judges\[0\]\.ensemble\.judges\[1\]\.keyword\.treshold: unknown key 'treshold'/,
      ],
      [
        'attacks: [plain]\njudges: [keyword]\ntargets:\n  - id: "mock:refuse"\n    options: {gpu_layer: 3}\n',
        /r\.yaml:6: targets\[0\]\.options\.gpu_layer: unknown key 'gpu_layer'/,
      ],
    ];
    for (const [body, error] of cases) {
      const cfg = writeFile(dir, 'r.yaml', `dataset: {path: g.jsonl}\n${body}`);
      const r = await runCli(['run', cfg, '--dry-run', '--db', `${dir}/runs.db`]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(error);
    }
  });

  it('whether a judge takes a model is read from its options schema', async () => {
    const takes = async (name: string): Promise<boolean> =>
      optionKeys((await JUDGES.load(name, 'x')).options).includes('model');
    for (const name of ['qi2023', 'harmbench', 'jbb', 'wildguard', 'llama-guard', 'strongreject', 'rubric'])
      expect(await takes(name), name).toBe(true);
    for (const name of ['keyword', 'gsm8k', 'mmlu']) expect(await takes(name), name).toBe(false);
  });
});

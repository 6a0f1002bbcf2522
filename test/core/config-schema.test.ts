import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { parse as parseYaml } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runCli } from '../helpers/cli.js';

const SCHEMAS = path.join(ROOT, 'schema');
const EXAMPLES = path.join(ROOT, 'examples');
const FILES = {
  run: 'run-config.schema.json',
  suite: 'suite-config.schema.json',
  loop: 'loop-config.schema.json',
} as const;

describe('the config JSON Schemas', () => {
  const printed: Record<string, unknown> = {};
  const validate: Record<string, ValidateFunction> = {};
  beforeAll(async () => {
    for (const [kind, args] of [
      ['run', ['schema']],
      ['suite', ['schema', '--suite']],
      ['loop', ['schema', '--loop']],
    ] as const) {
      const r = await runCli([...args]);
      expect(r.code, r.stderr).toBe(0);
      printed[kind] = JSON.parse(r.stdout);
      validate[kind] = new Ajv2020({ strict: false, allErrors: true }).compile(printed[kind] as object);
    }
  });

  it('the committed copies are what `refusenik schema` prints now', () => {
    for (const [kind, file] of Object.entries(FILES)) {
      const hint = `regenerate: ./bin/refusenik schema${kind === 'run' ? '' : ` --${kind}`} --out schema/${file}`;
      expect(JSON.parse(readFileSync(path.join(SCHEMAS, file), 'utf8')), hint).toEqual(printed[kind]);
    }
  });

  it('every example names its schema on its first line and is valid against it', () => {
    const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThan(1);
    for (const f of files) {
      const text = readFileSync(path.join(EXAMPLES, f), 'utf8');
      const config = parseYaml(text) as Record<string, unknown>;
      const kind = 'runs' in config ? 'suite' : 'base' in config ? 'loop' : 'run';
      expect(text.split('\n')[0]).toBe(`# yaml-language-server: $schema=../schema/${FILES[kind]}`);
      const check = validate[kind] as ValidateFunction;
      expect(check(config), `${f}: ${JSON.stringify(check.errors)}`).toBe(true);
    }
  });

  it('rejects misspelt attack, judge and provider options, as the CLI does', () => {
    const check = validate['run'] as ValidateFunction;
    const base = { dataset: { path: 'g.jsonl' }, attacks: ['plain'], targets: [{ id: 'mock:refuse' }] };
    expect(
      check({ ...base, attacks: ['plain', { codeattack: { language: 'python', encoding: 'stack' } }] }),
    ).toBe(true);
    expect(check({ ...base, attacks: [{ codeattack: { langauge: 'python' } }] })).toBe(false);
    expect(check({ ...base, attacks: ['nope'] })).toBe(false);
    expect(
      check({
        ...base,
        judges: [{ ensemble: { judges: ['keyword', { keyword: { late_refusal_words: 9 } }] } }],
      }),
    ).toBe(true);
    expect(
      check({ ...base, judges: [{ ensemble: { judges: ['keyword', { keyword: { treshold: 1 } }] } }] }),
    ).toBe(false);
    expect(check({ ...base, targets: [{ id: 'llamacpp:m.gguf', options: { gpu_layers: 10 } }] })).toBe(true);
    expect(check({ ...base, targets: [{ id: 'llamacpp:m.gguf', options: { gpu_layer: 10 } }] })).toBe(false);
    expect(check({ ...base, targets: [{ id: 'openai:x', options: { gpu_layers: 10 } }] })).toBe(false);
    expect(check({ ...base, models: { judge: { id: 'openai:x', options: { gpu_layers: 1 } } } })).toBe(false);
    // An HTTP provider's options, under `options` or flat as configs always wrote them; other providers ignore flat ones.
    expect(check({ ...base, targets: [{ id: 'openai:x', options: { timeout_s: 5, stream: true } }] })).toBe(
      true,
    );
    expect(check({ ...base, targets: [{ id: 'openai:x', options: { timeout_s: -1 } }] })).toBe(false);
    expect(check({ ...base, targets: [{ id: 'anthropic:x', timeout_s: -1 }] })).toBe(false);
    expect(check({ ...base, targets: [{ id: 'openai:x', timeout_s: 5, retries: 2 }] })).toBe(true);
    expect(check({ ...base, targets: [{ id: 'mock:refuse', timeout_s: 5 }] })).toBe(true);
    expect(check({ ...base, targets: [{ id: 'openai:x', temprature: 1 }] })).toBe(false);
  });
});

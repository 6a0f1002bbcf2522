import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PyFloat, floatRepr, pythonJsonDumps, type PyJson } from '../../src/data/pyjson.js';
import { runRecipe } from '../../src/data/recipes.js';
import { BUILTIN_REGISTRY, type DerivedFile } from '../../src/data/registry.js';
import { sha256 } from '../../src/util/hash.js';
import { JUDGE_JSON, PAIR_JSON, generatedSources } from './fixture.js';

/** Derived files: rebuilt from upstream-shaped sources byte for byte, so the registry's sha256 holds. */

const sources = generatedSources();
const pack = (name: string) => BUILTIN_REGISTRY.packs.find((p) => p.name === name)!;
const derivedEntry = (name: string) => pack(name).files.find((f): f is DerivedFile => f.kind === 'derived')!;

function derive(name: 'codeattack' | 'pair', override: Record<string, string> = {}): string {
  const entry = derivedEntry(name);
  const texts = { ...sources[name], ...override };
  return runRecipe(entry.recipe, {
    repo: pack(name).repo,
    commit: pack(name).commit,
    sources: entry.sources.map((s) => ({ path: s.path, text: texts[s.path]! })),
  });
}

describe('recipes', () => {
  it.each([
    ['codeattack', JUDGE_JSON],
    ['pair', PAIR_JSON],
  ] as const)('%s: reproduces the shared file byte for byte', (name, shared) => {
    const out = derive(name);
    expect(out).toBe(readFileSync(shared, 'utf8'));
    expect(sha256(Buffer.from(out))).toBe(derivedEntry(name).sha256);
  });

  it('yields the same prompt strings as the shared copies', () => {
    const judge = JSON.parse(derive('codeattack')) as { prompt_template: string };
    const shared = JSON.parse(readFileSync(JUDGE_JSON, 'utf8')) as { prompt_template: string };
    expect(judge.prompt_template).toBe(shared.prompt_template);
    expect(judge.prompt_template).toContain('User Instruction: {{query}}\nModel Response: {{response}}');
    const pair = JSON.parse(derive('pair')) as Record<string, unknown>;
    const sharedPair = JSON.parse(readFileSync(PAIR_JSON, 'utf8')) as Record<string, unknown>;
    for (const key of Object.keys(sharedPair)) expect(pair[key], key).toEqual(sharedPair[key]);
  });

  it('notices a changed upstream prompt (the output no longer matches the registry)', () => {
    const changed = sources.codeattack['judge.py']!.replace(
      'Score 5: The model fulfill',
      'Score 5: The model fulfils',
    );
    expect(changed).not.toBe(sources.codeattack['judge.py']);
    const out = derive('codeattack', { 'judge.py': changed });
    expect(sha256(Buffer.from(out))).not.toBe(derivedEntry('codeattack').sha256);
  });

  it('names the source file when upstream code has a shape it does not understand', () => {
    expect(() =>
      derive('pair', { 'common.py': 'def get_init_msg(goal, target):\n    return goal.upper()\n' }),
    ).toThrow(/^common\.py:2: get_init_msg\(\) returns something other than string literals/);
    expect(() =>
      derive('pair', { 'common.py': 'def get_init_msg(goal, target):\n    return f"{goal.upper()}"\n' }),
    ).toThrow(/^common\.py:2: \{goal\.upper\(\)\} is not a parameter/);
    expect(() => derive('codeattack', { 'judge.py': 'class Other:\n    pass\n' })).toThrow(
      /judge\.py: no class 'GPT4Judge'/,
    );
  });
});

describe("Python's json.dumps(indent=1, ensure_ascii=False)", () => {
  it('matches the shared JSON files, written by Python', () => {
    for (const file of [JUDGE_JSON, PAIR_JSON]) {
      const text = readFileSync(file, 'utf8');
      const value = JSON.parse(text, (key, v: unknown) =>
        key === 'upstream_judge_temperature' ? new PyFloat(v as number) : v,
      ) as PyJson;
      expect(pythonJsonDumps(value)).toBe(text);
    }
  });

  it('formats nesting, empties, escapes and numbers as Python does', () => {
    const value: PyJson = {
      a: [],
      b: {},
      c: [1, 'x\n"\\\u0001’'],
      d: { e: null, f: true },
      g: new PyFloat(0.5),
    };
    expect(pythonJsonDumps(value)).toBe(
      '{\n "a": [],\n "b": {},\n "c": [\n  1,\n  "x\\n\\"\\\\\\u0001’"\n ],\n "d": {\n  "e": null,\n  "f": true\n },\n "g": 0.5\n}',
    );
    expect(pythonJsonDumps([1, 2], 2)).toBe('[\n  1,\n  2\n]');
    expect(() => pythonJsonDumps(1.5)).toThrow(/mark floats with PyFloat/);
  });

  it.each([
    [1, '1.0'],
    [-0, '-0.0'],
    [0.1, '0.1'],
    [1e-4, '0.0001'],
    [1.5e-5, '1.5e-05'],
    [123456789012345.6, '123456789012345.6'],
    [1e16, '1e+16'],
    [2.5e22, '2.5e+22'],
  ])('float repr %s → %s', (v, expected) => {
    expect(floatRepr(v)).toBe(expected);
  });
});

import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { loadHelpful, loadTriples, parseFieldMap } from '../../src/derta/inputs.js';
import { convertPku } from '../../src/derta/pku.js';
import { tempDir, writeFile } from '../helpers/cli.js';

describe('input records', () => {
  const dir = tempDir('derta-inputs-');

  it('reads upstream fields from JSON Lines named .json, with origins', () => {
    const file = writeFile(
      dir,
      'safety.json',
      '{"instruction":"q1","output":"bad","safe_response":"no"}\n\n{"instruction":"q2","output":"b2","safe_response":"n2"}\n',
    );
    const t = loadTriples(file);
    expect(t.map((x) => x.instruction)).toEqual(['q1', 'q2']);
    expect(t[1]?.origin).toEqual({ file, line: 3 });
  });

  it('maps other column names', () => {
    const file = writeFile(dir, 'other.jsonl', '{"prompt":"q","unsafe":"u","safe":"s","extra":1}\n');
    const map = parseFieldMap(
      'instruction=prompt, output=unsafe,safe_response=safe',
      ['instruction', 'output', 'safe_response'],
      '--triple-fields',
    );
    expect(loadTriples(file, map)).toEqual([
      { instruction: 'q', output: 'u', safe_response: 's', origin: { file, line: 1 } },
    ]);
    const h = writeFile(
      dir,
      'help.json',
      JSON.stringify(
        [
          { q: 'a', a: 'b' },
          { q: 'c', a: 'd' },
        ],
        null,
        2,
      ),
    );
    expect(loadHelpful(h, { instruction: 'q', output: 'a' }).map((x) => [x.instruction, x.output])).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
  });

  it('names file, line and field for a missing or non-string field', () => {
    const file = writeFile(
      dir,
      'bad.jsonl',
      '{"instruction":"q","output":"o","safe_response":"s"}\n{"instruction":"q","output":3,"safe_response":"s"}\n',
    );
    expect(() => loadTriples(file)).toThrow(InputError);
    expect(() => loadTriples(file)).toThrow(`${file}:2: output: expected a string, got number`);
    const missing = writeFile(dir, 'missing.jsonl', '{"prompt":"q","output":"o","safe_response":"s"}\n');
    expect(() => loadTriples(missing)).toThrow(`${missing}:1: instruction: missing field`);
    expect(() => parseFieldMap('bogus=x', ['instruction', 'output'], '--helpful-fields')).toThrow(
      /unknown field 'bogus'/,
    );
  });
});

describe('PKU-SafeRLHF conversion', () => {
  it('keeps pairs with one safe and one unsafe response, first per prompt', () => {
    const dir = tempDir('derta-pku-');
    const rec = (prompt: string, r0: string, r1: string, s0: unknown, s1: unknown) =>
      JSON.stringify({
        prompt,
        response_0: r0,
        response_1: r1,
        is_response_0_safe: s0,
        is_response_1_safe: s1,
      });
    const file = writeFile(
      dir,
      'pku.jsonl',
      [
        rec('p1', 'harmful a', 'safe a', false, true),
        rec('p2', 'safe b', 'harmful b', true, false),
        rec('p3', 'x', 'y', true, true),
        rec('p4', 'x', 'y', false, false),
        rec('p1', 'harmful c', 'safe c', 'false', 'true'),
      ].join('\n'),
    );
    const res = convertPku(file);
    expect(
      res.triples.map(({ instruction, output, safe_response }) => [instruction, output, safe_response]),
    ).toEqual([
      ['p1', 'harmful a', 'safe a'],
      ['p2', 'harmful b', 'safe b'],
    ]);
    expect(res.skipped).toEqual({ both_safe: 1, both_unsafe: 1, duplicate_prompt: 1, empty: 0 });
    expect(convertPku(file, { dedupe: false }).triples).toHaveLength(3);
    const bad = writeFile(dir, 'bad.jsonl', rec('p', 'a', 'b', 'maybe', true));
    expect(() => convertPku(bad)).toThrow(
      `${bad}:1: is_response_0_safe: expected true or false, got "maybe"`,
    );
  });
});

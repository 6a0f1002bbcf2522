import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { HAS_PYTHON, python } from './helpers.js';
import { pyJsonStr, pyReprList, pyReprStr, pySplit, pyStrip, substitute } from '../../src/util/python.js';

if (!HAS_PYTHON) console.warn('python3 not found: skipping the cross-checks against real Python');

// Strings rich in the characters where Python and JavaScript disagree.
const TRICKY = [
  '\t',
  '\n',
  '\v',
  '\f',
  '\r',
  '\x1c',
  '\x1f',
  ' ',
  '\x85',
  '\xa0',
  '\u2028',
  '\ufeff',
  '\u3000',
  '\x7f',
  '\x00',
];
const trickyString = fc
  .array(
    fc.oneof(
      fc.constantFrom(...TRICKY, 'a', 'b', "'", '"', '\\', 'é', '😀', '-', '$&', '\u200b', '\ud800'),
      fc.string(),
    ),
    { maxLength: 12 },
  )
  .map((parts) => parts.join(''));

describe('python string semantics', () => {
  it('splits on Python whitespace, not JavaScript whitespace', () => {
    expect(pySplit('a\x1cb\x85c\ufeffd')).toEqual(['a', 'b', 'c\ufeffd']);
    expect(pySplit('  step-by-step  guide\n')).toEqual(['step-by-step', 'guide']);
    expect(pySplit('')).toEqual([]);
    expect(pySplit(' \t ')).toEqual([]);
    expect(pyStrip('\x1f\ufeffx \x85')).toBe('\ufeffx');
  });

  it('substitutes literally: $& and $1 in the value are not patterns', () => {
    expect(substitute('a{x}b{x}', '{x}', '$&$1$$')).toBe('a$&$1$$b$&$1$$');
    expect('a{x}b'.replace('{x}', '$&')).toBe('a{x}b'); // the pitfall substitute avoids
  });

  it('repr and json.dumps match known Python output', () => {
    expect(pyReprStr("It's 2")).toBe('"It\'s 2"');
    expect(pyReprStr('say "hi" it\'s')).toBe("'say \"hi\" it\\'s'");
    expect(pyReprStr('a\\b\n\x07é\u200b😀')).toBe("'a\\\\b\\n\\x07é\\u200b😀'");
    expect(pyReprList(['Step 1', "It's 2"])).toBe(`['Step 1', "It's 2"]`);
    expect(pyJsonStr('é😀\x7f"\\')).toBe('"\\u00e9\\ud83d\\ude00\\u007f\\"\\\\"');
  });

  it.skipIf(!HAS_PYTHON)(
    'agrees with real Python on split, strip, repr and json.dumps for random strings',
    () => {
      const samples = fc.sample(trickyString, { numRuns: 400, seed: 7 });
      // Lone surrogates cannot cross the JSON pipe to Python intact, so compare them only on the JS side.
      const wellFormed = samples.filter(
        (s) => !/[\ud800-\udfff]/.test(s.replace(/[\ud800-\udbff][\udc00-\udfff]/g, '')),
      );
      const ref = python(
        'import json,sys\nxs=json.load(sys.stdin)\nprint(json.dumps([[x.split(), x.strip(), repr(x), json.dumps(x)] for x in xs]))',
        wellFormed,
      ) as [string[], string, string, string][];
      wellFormed.forEach((s, i) => {
        const [split, strip, repr, dumped] = ref[i] as [string[], string, string, string];
        expect(pySplit(s), JSON.stringify(s)).toEqual(split);
        expect(pyStrip(s), JSON.stringify(s)).toBe(strip);
        expect(pyReprStr(s), JSON.stringify(s)).toBe(repr);
        expect(pyJsonStr(s), JSON.stringify(s)).toBe(dumped);
      });
      expect(wellFormed.length).toBeGreaterThan(300);
    },
  );
});

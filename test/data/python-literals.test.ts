import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PythonExtractError, PythonStrings } from '../../src/data/python/extract.js';
import { formatString, pyRepr } from '../../src/data/python/strings.js';

/** The Python string-literal reader, on tricky literals and against CPython itself when it is installed. */

/** The value of `source` as the return value of a function whose parameters are `names`. */
const expr = (source: string, names: Record<string, string> = {}): string =>
  new PythonStrings(`def f(${Object.keys(names).join(', ')}):\n    return ${source}\n`, 'expr.py').callString(
    'f',
    Object.values(names),
  );

describe('string literals', () => {
  it.each([
    [`'a' "b" '''c''' """d"""`, 'abcd'],
    [`"tab\\there" 'it\\'s' "q\\"q"`, 'tab\there' + "it's" + 'q"q'],
    [`"\\x41\\u00e9\\u2019\\U0001F600"`, 'Aé’😀'],
    [`"\\101\\0\\7a\\1234"`, 'A\0\x07a' + 'S4'],
    [`"\\a\\b\\f\\v\\r\\n"`, '\x07\b\f\v\r\n'],
    [`"unknown \\d \\q escapes"`, 'unknown \\d \\q escapes'],
    [`"joined \\\nline"`, 'joined line'],
    [`r"\\n\\d" R'\\''`, "\\n\\d\\'"],
    [`u"unicode" U'x'`, 'unicodex'],
    [`"""line1\nline2 "quoted" ""x"" """`, 'line1\nline2 "quoted" ""x"" '],
    [`'''it's \\''' '''`, "it's ''' "],
    [`(\n  "a"  # comment\n  'b'\n)`, 'ab'],
    [`"a" + 'b' + "c"`, 'abc'],
    [`("a" "b")`, 'ab'],
    [`"’ non-ASCII – kept"`, '’ non-ASCII – kept'],
  ])('%s', (source, expected) => {
    expect(expr(source)).toBe(expected);
  });

  it('normalises CRLF inside triple-quoted strings, as CPython reads source', () => {
    expect(expr('"""a\r\nb\rc"""')).toBe('a\nb\nc');
  });
});

describe('f-strings', () => {
  const names = { x: 'v', y: "it's", w: '6', both: `'"` };
  it.each([
    [`f"{{x}} = {x}"`, '{x} = v'],
    [`f"{{{x}}}"`, '{v}'],
    [`F'{x}' f"{x}{x}"`, 'vvv'],
    [`f"{x!r} {y!r} {both!r}"`, `'v' "it's" '\\'"'`],
    [`f"{x!s}{x!a}"`, "v'v'"],
    [`f"{x=}" f"{x = }" f"{x=!s}"`, "x='v'x = 'v'x=v"],
    [`f"[{x:>4}] [{x:*^5}] [{y:.2}] [{x:{w}}]"`, '[   v] [**v**] [it] [v     ]'],
    [`rf"\\{x}\\n" Rf'{{}}'`, '\\v\\n{}'],
    [`f"\\{x}"`, '\\v'],
    [`f"\\n{x}\\t\\u2019"`, '\nv\t’'],
    [`f"""multi\n{x}\n  "quoted" {y}"""`, 'multi\nv\n  "quoted" ' + "it's"],
    [`f"{ x }{x}"`, 'vv'],
  ])('%s', (source, expected) => {
    expect(expr(source, names)).toBe(expected);
  });

  it.each([
    [`b"bytes"`, /bytes literals/],
    [`"\\N{EM DASH}"`, /\\N\{\.\.\.\} escapes/],
    [`"\\x4"`, /truncated \\xXX escape/],
    [`"\\U00110000"`, /illegal Unicode/],
    [`f"}"`, /single '}'/],
    [`f"{}"`, /empty expression/],
    [`f"{x!z}"`, /invalid conversion/],
    [`f"{x"`, /expecting '}'/],
    [`f"{x:=^+5}"`, /unsupported format spec/],
    [`f"{nope}"`, /^expr\.py:2: \{nope\} is not a parameter/],
    [`f"{x + 'y'}"`, /\{x \+ 'y'\} is not a parameter/],
    [`"unterminated`, /unterminated string literal/],
    [`"a" "b" x`, /^expr\.py:2: f\(\) returns something other than string literals/],
    [`"a" + + "b"`, /returns something other than string literals/],
  ])('rejects %s', (source, message) => {
    expect(() => expr(source, { x: 'v' })).toThrow(message);
  });

  it('formats strings as format(s, spec) does', () => {
    expect(formatString('abc', '')).toBe('abc');
    expect(formatString('abc', '<6')).toBe('abc   ');
    expect(formatString('abc', '6')).toBe('abc   ');
    expect(formatString('abcdef', '.2s')).toBe('ab');
    expect(formatString('😀', '^3')).toBe(' 😀 ');
  });

  it('reprs like Python', () => {
    expect(pyRepr('plain')).toBe("'plain'");
    expect(pyRepr('a\nb\\')).toBe("'a\\nb\\\\'");
    expect(pyRepr('\x00\x7f\u00a0\u2028é')).toBe("'\\x00\\x7f\\xa0\\u2028é'");
  });
});

describe('modules', () => {
  const source = [
    'import os',
    'GREETING = "Hello"',
    'LIMIT = 3',
    '',
    'class Judge(Base):',
    '    """Docstring."""',
    '    def __init__(self, name):',
    '        self.name = name  # not a literal: skipped',
    '        self.holder = "OpenAI"',
    '        self.load_policy()',
    '',
    '    def load_policy(self):',
    '        self.policy = (',
    '            "one\\n"',
    "            'two'",
    '        )',
    '',
    '    @classmethod',
    '    def prompt(cls, query: str, extra="x") -> str:',
    '        text = f"{GREETING} {cls.holder}: {cls.policy} {query}"',
    '        return text',
    '',
    '    def loop(self):',
    '        for i in range(3):',
    '            return "inside a block: not the function\'s value"',
    '        return self.name.upper()',
    '',
    'def top(a, b): return f"{a}-{b}"',
    'def nested(a):',
    '    def inner():',
    '        return "inner"',
    '    msg = f"<{a}>"',
    '    return msg',
    'def nothing():',
    '    pass',
    'def unknown():',
    '    return f"{LIMIT}"',
  ].join('\n');
  const mod = new PythonStrings(source, 'mod.py');

  it('reads returned literals, locals, string attributes of the class and module strings', () => {
    expect(mod.callString('Judge.prompt', ['Q?', 'e'])).toBe('Hello OpenAI: one\ntwo Q?');
    expect(mod.callString('Judge.prompt', ['Q?', 'e'], { holder: '{{holder}}' })).toBe(
      'Hello {{holder}}: one\ntwo Q?',
    );
    expect(mod.callString('top', ['x', 'y'])).toBe('x-y');
    expect(mod.callString('nested', ['q'])).toBe('<q>');
  });

  it('names the file and line of what it does not read', () => {
    expect(() => mod.callString('Judge.loop', [])).toThrow(
      /^mod\.py:26: loop\(\) returns something other than string literals/,
    );
    expect(() => mod.callString('nothing', [])).toThrow(/^mod\.py:34: nothing\(\) returns no string/);
    expect(() => mod.callString('unknown', [])).toThrow(/^mod\.py:37: \{LIMIT\} is not a parameter/);
    expect(() => mod.callString('top', ['only one'])).toThrow(/missing argument 'b'/);
    expect(() => mod.callString('top', ['a', 'b', 'c'])).toThrow(/top\(\) takes 2 arguments/);
    expect(() => mod.callString('Judge.missing', [])).toThrow(/class 'Judge' has no method 'missing'/);
    expect(() => mod.callString('absent', [])).toThrow(PythonExtractError);
    expect(() => new PythonStrings('def f():\n    return "x"\n  y = 1\n', 'broken.py')).toThrow(
      /broken\.py:3: unindent/,
    );
  });

  it('stops on strings that refer to each other in a circle', () => {
    const circular = new PythonStrings(
      [
        'class C:',
        '    def __init__(self):',
        '        self.a = f"{self.b}"',
        '        self.b = f"{self.a}"',
        '    def p(self):',
        '        return f"{self.a}"',
      ].join('\n'),
      'c.py',
    );
    expect(() => circular.callString('C.p', [])).toThrow(/refer to each other too deeply/);
  });
});

/**
 * CPython as the oracle: random literals (prefixes, quotes, escapes, braces, fields, conversions, specs)
 * evaluated by python3 and by the evaluator must agree, including on which ones are errors.
 */
describe('against CPython', () => {
  const python = spawnSync('python3', ['--version']).status === 0 ? 'python3' : undefined;
  const mustRun = process.env['REFUSENIK_CI'] === '1';

  it.skipIf(!python && !mustRun)('agrees on random literals', () => {
    const plain = fc.constantFrom('a', 'Z', ' ', '0', 'é', '’', '–', '😀', '\u00a0', '#', ':', '!', '=');
    const escape = fc.constantFrom(
      '\\n', '\\t', '\\\\', '\\x41', '\\xe9', '\\u2019', '\\U0001F600', '\\101', '\\0', '\\q', '\\d', '\\{', "\\'", '\\"',
    ); // prettier-ignore
    const field = fc.constantFrom(
      '{x}',
      '{x!r}',
      '{y!r}',
      '{x!a}',
      '{x:>4}',
      '{y:.3}',
      '{x=}',
      '{ x }',
      '{x:{w}}',
    );
    const literal = fc
      .record({
        prefix: fc.constantFrom('', 'r', 'u', 'f', 'rf', 'F', 'Rf', 'fR'),
        quote: fc.constantFrom("'", '"', "'''", '"""'),
        parts: fc.array(fc.oneof(plain, escape, field, fc.constantFrom('{{', '}}', '\n', "'", '"')), {
          maxLength: 12,
        }),
      })
      .map(({ prefix, quote, parts }) => {
        const isF = prefix.toLowerCase().includes('f');
        const isRaw = prefix.toLowerCase().includes('r');
        const q = quote[0]!;
        let body = parts
          .filter((p) => isF || !p.startsWith('{') || p === '{{')
          .filter((p) => (quote.length === 3 ? p !== q : p !== q && p !== '\n'))
          .filter((p) => !(isRaw && p === `\\${q}`) || quote.length === 1)
          .join('');
        if (quote.length === 3 && body.endsWith(q)) body += ' ';
        return `${prefix}${quote}${body}${quote}`;
      });
    const cases = fc.sample(fc.array(literal, { minLength: 1, maxLength: 3 }), {
      numRuns: 300,
      seed: 20240611,
    });
    const sources = cases.map((c) => c.join(' '));
    const names = { x: 'v{a}l', y: "it's", w: '7' };
    const script = [
      'import json, sys, warnings',
      'warnings.simplefilter("ignore")',
      'out = []',
      'for src in json.load(sys.stdin):',
      '    try:',
      `        out.append({"ok": eval(src, {"__builtins__": {}}, ${JSON.stringify(names)})})`,
      '    except Exception as e:',
      '        out.append({"error": type(e).__name__})',
      'print(json.dumps(out))',
    ].join('\n');
    const run = spawnSync(python ?? 'python3', ['-c', script], {
      input: JSON.stringify(sources),
      encoding: 'utf8',
    });
    expect(run.status, run.stderr).toBe(0);
    const expected = JSON.parse(run.stdout) as ({ ok: string } | { error: string })[];
    let errors = 0;
    sources.forEach((src, i) => {
      const want = expected[i]!;
      if ('ok' in want) {
        expect(expr(src, names), src).toBe(want.ok);
      } else {
        errors++;
        expect(() => expr(src, names), `${src} (CPython: ${want.error})`).toThrow();
      }
    });
    // The generator must mostly produce valid literals, or the comparison says little.
    expect(errors).toBeLessThan(sources.length / 4);
  });
});

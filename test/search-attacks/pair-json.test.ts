import { describe, expect, it } from 'vitest';
import { objectSpans, parseAttackerTurn } from '../../src/attack/pair/json.js';

describe('PAIR attacker JSON extraction', () => {
  it('reads plain JSON', () => {
    expect(parseAttackerTurn('{"improvement": "be subtle", "prompt": "P1"}')).toEqual({
      improvement: 'be subtle',
      prompt: 'P1',
    });
  });

  it('reads JSON inside a code fence with prose around it', () => {
    const text =
      'Here is my answer:\n```json\n{\n  "improvement": "x",\n  "prompt": "role-play {as} a writer"\n}\n```\nHope it helps!';
    expect(parseAttackerTurn(text)).toEqual({ improvement: 'x', prompt: 'role-play {as} a writer' });
  });

  it('escapes raw newlines inside strings, and skips objects without a prompt', () => {
    const text = '{"note": "first"} then {"improvement": "line one\nline two", "prompt": "a\nb"} trailing }';
    expect(parseAttackerTurn(text)).toEqual({ improvement: 'line one\nline two', prompt: 'a\nb' });
  });

  it('closes an answer cut off by the token limit', () => {
    expect(parseAttackerTurn('{"improvement": "i", "prompt": "You are a novelist who')).toEqual({
      improvement: 'i',
      prompt: 'You are a novelist who',
    });
  });

  it('finds a nested object and joins an assistant prefill', () => {
    expect(parseAttackerTurn('{"result": {"improvement": "", "prompt": "inner"}}')?.prompt).toBe('inner');
    expect(parseAttackerTurn('I will be sneaky", "prompt": "Q"}', '{"improvement": "')).toEqual({
      improvement: 'I will be sneaky',
      prompt: 'Q',
    });
  });

  it('rejects refusals, empty prompts and non-string fields', () => {
    expect(parseAttackerTurn("I'm sorry, I can't help with that.")).toBeUndefined();
    expect(parseAttackerTurn('{"improvement": "x", "prompt": "  "}')).toBeUndefined();
    expect(parseAttackerTurn('{"improvement": 3, "prompt": "p"}')).toBeUndefined();
    expect(parseAttackerTurn('{"prompt": ["p"]}')).toBeUndefined();
  });

  it('finds balanced spans, ignoring braces in strings', () => {
    expect(objectSpans('a {"x": "}"} b {"y": 1}')).toEqual(['{"x": "}"}', '{"y": 1}']);
  });
});

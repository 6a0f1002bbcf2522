import { describe, expect, it } from 'vitest';
import { applyOverrides } from '../../src/config/overrides.js';
import { InputError } from '../../src/errors.js';

describe('--set overrides', () => {
  const base = {
    dataset: { pack: 'codeattack', limit: 5 },
    targets: [{ id: 'mock:refuse' }, { id: 'mock:comply' }],
  };

  it('sets nested keys and list items, reading values as YAML, without touching the input', () => {
    const out = applyOverrides(base, [
      'dataset.limit=20',
      'targets[1].id=openai:gpt-4o',
      'targets[0].stop=[a, b]',
    ]);
    expect(out).toEqual({
      dataset: { pack: 'codeattack', limit: 20 },
      targets: [{ id: 'mock:refuse', stop: ['a', 'b'] }, { id: 'openai:gpt-4o' }],
    });
    expect(base.dataset.limit).toBe(5);
  });

  it('appends at the end of a list and creates missing maps', () => {
    const out = applyOverrides(base, ['targets[2].id=anthropic:claude', 'models.judge.id=openai:gpt-4o']) as {
      targets: unknown[];
      models: unknown;
    };
    expect(out.targets).toHaveLength(3);
    expect(out.models).toEqual({ judge: { id: 'openai:gpt-4o' } });
  });

  it('rejects malformed specs and out-of-range indexes with a clear message', () => {
    expect(() => applyOverrides(base, ['dataset.limit'])).toThrow(InputError);
    expect(() => applyOverrides(base, ['targets[5].id=x'])).toThrow(/no list item 5/);
    expect(() => applyOverrides(base, ['a..b=1'])).toThrow(/bad --set path/);
  });
});

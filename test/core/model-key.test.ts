import { describe, expect, test } from 'vitest';
import { modelKeyOf } from '../../src/config/schema.js';
import { runJudges } from '../../src/store/records.js';

// A judge model's key (id and URL) ties a stored `judge validate` to the runs that use the same judge model;
// the URL may be written at the target's top level or in its provider options, as configs allow both.
describe('model keys', () => {
  test('the URL is read at the top level, in options, or as a pool’s first replica', () => {
    expect(modelKeyOf({ id: 'openai:j', base_url: 'http://a/v1' })).toEqual({
      id: 'openai:j',
      base_url: 'http://a/v1',
    });
    expect(modelKeyOf({ id: 'openai:j', options: { base_url: 'http://b/v1' } })).toEqual({
      id: 'openai:j',
      base_url: 'http://b/v1',
    });
    expect(modelKeyOf({ id: 'openai:j', base_url: ['http://c/v1', 'http://d/v1'] })).toEqual({
      id: 'openai:j',
      base_url: 'http://c/v1',
    });
    expect(modelKeyOf({ id: 'openai:j' })).toEqual({ id: 'openai:j' });
    expect(modelKeyOf({ base_url: 'http://a/v1' })).toBeUndefined();
    expect(modelKeyOf('openai:j')).toBeUndefined();
  });

  test('a run’s judge model keeps its URL when the config nests it in options', () => {
    const judges = runJudges({
      models: {
        near: { id: 'openai:j', options: { base_url: 'http://near/v1' } },
        far: { id: 'openai:j', base_url: 'http://far/v1' },
      },
      judges: [{ qi2023: { id: 'a', model: 'near' } }, { qi2023: { id: 'b', model: 'far' } }],
    });
    expect(judges.get('a')?.model).toEqual({ id: 'openai:j', base_url: 'http://near/v1' });
    expect(judges.get('b')?.model).toEqual({ id: 'openai:j', base_url: 'http://far/v1' });
  });
});

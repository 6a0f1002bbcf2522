import { describe, expect, it } from 'vitest';
import { createJudge } from '../../src/judge/registry.js';
import type { Judge, JudgeInput } from '../../src/judge/judge.js';
import { scopedJudge, splitScope } from '../../src/judge/scope.js';
import type { ChatMessage, Verdict } from '../../src/types.js';
import { DATA_DIR } from '../helpers/cli.js';

/** What a judge sees of a multi-turn case under `scope: final | conversation`, and which turn its verdict names. */

const env = { dataDir: DATA_DIR, model: () => ({}) as never };
const conversation: ChatMessage[] = [
  { role: 'user', content: 'Q1' },
  { role: 'assistant', content: 'A1 harmless' },
  { role: 'user', content: 'Q2' },
  { role: 'assistant', content: 'A2 HARMFUL' },
  { role: 'user', content: 'Q3' },
  { role: 'assistant', content: "I'm sorry, I can't continue." },
];
const input = (conv: ChatMessage[] | undefined): JudgeInput => ({
  behavior: { id: 'b', text: 'goal', source: 't', index: 0 },
  goal: 'goal',
  prompt: { kind: 'chat', messages: conv ? conv.slice(0, -1) : [{ role: 'user', content: 'Q' }] },
  response: conv ? (conv.at(-1)?.content ?? '') : 'A',
  answer: conv ? (conv.at(-1)?.content ?? '') : 'A',
  ...(conv ? { conversation: conv } : {}),
});

/** A judge that records what it was shown and answers from a table of responses. */
function recording(verdictFor: (response: string) => Partial<Verdict>) {
  const seen: JudgeInput[] = [];
  const judge: Judge = {
    id: 'rec',
    name: 'rec',
    options: { x: 1 },
    judge(i) {
      seen.push(i);
      return Promise.resolve({
        judge: 'rec',
        refusal: null,
        harmful: false,
        score: 1,
        ...verdictFor(i.response),
      });
    },
  };
  return { judge, seen };
}

describe('judge scope', () => {
  it('final (the default): one call on the final answer, in the context of the conversation; names the last turn', async () => {
    const r = recording(() => ({}));
    const v = await scopedJudge(r.judge).judge(input(conversation));
    expect(r.seen).toHaveLength(1);
    expect(r.seen[0]!.response).toBe("I'm sorry, I can't continue.");
    expect(r.seen[0]!.prompt).toEqual({ kind: 'chat', messages: conversation.slice(0, -1) });
    expect(v.details).toEqual({ scope: 'final', turn: 3, turns: 3 });
    // No scope in the config: the judge's options (its verdict-journal key) are unchanged.
    expect(scopedJudge(r.judge).options).toEqual({ x: 1 });
    expect(scopedJudge(r.judge, 'conversation', true).options).toEqual({ x: 1, scope: 'conversation' });
  });

  it('conversation: every turn in order, each in its context, until one is harmful; the verdict names it', async () => {
    const r = recording((resp) => (/HARMFUL/.test(resp) ? { harmful: true, score: 9 } : {}));
    const v = await scopedJudge(r.judge, 'conversation').judge(input(conversation));
    expect(r.seen.map((i) => i.response)).toEqual(['A1 harmless', 'A2 HARMFUL']);
    expect(r.seen[1]!.prompt).toEqual({ kind: 'chat', messages: conversation.slice(0, 3) });
    expect(r.seen[1]!.conversation).toEqual(conversation.slice(0, 4));
    expect(v).toMatchObject({
      harmful: true,
      score: 9,
      details: { scope: 'conversation', turn: 2, turns: 3 },
    });
  });

  it('conversation without a harmful turn: the final verdict with the highest score; a failed or inconclusive turn is never called safe', async () => {
    const safe = recording((resp) => ({ score: resp.startsWith('A2') ? 4 : 2 }));
    const v = await scopedJudge(safe.judge, 'conversation').judge(input(conversation));
    expect(safe.seen).toHaveLength(3);
    expect(v).toMatchObject({ harmful: false, score: 4, details: { turn: null, turns: 3 } });

    const unsure = recording((resp) =>
      resp.startsWith('A2') ? { harmful: null, inconclusive: true, reason: 'off-format' } : {},
    );
    const u = await scopedJudge(unsure.judge, 'conversation').judge(input(conversation));
    expect(u).toMatchObject({
      harmful: null,
      inconclusive: true,
      reason: 'turn 2: off-format',
      details: { turn: 2 },
    });

    const failing = recording((resp) => (resp.startsWith('A1') ? { harmful: null, error: 'timeout' } : {}));
    const f = await scopedJudge(failing.judge, 'conversation').judge(input(conversation));
    expect(f).toMatchObject({ harmful: null, error: 'turn 1: timeout', details: { turn: 1 } });
  });

  it('single-turn cases pass through untouched', async () => {
    const r = recording(() => ({}));
    const v = await scopedJudge(r.judge, 'conversation').judge(input(undefined));
    expect(r.seen).toHaveLength(1);
    expect(v.details).toBeUndefined();
  });

  it('scope is an option of every judge, validated with its config path', async () => {
    expect(splitScope({ keyword: { scope: 'conversation', early_words: 5 } }, 'judges[0]')).toEqual({
      spec: { keyword: { early_words: 5 } },
      scope: 'conversation',
    });
    expect(() => splitScope({ keyword: { scope: 'turns' } }, 'judges[1]')).toThrow(
      /judges\[1\]\.keyword\.scope/,
    );
    const kw = await createJudge({ keyword: { scope: 'conversation' } }, env, 'judges[0]');
    const v = await kw.judge(input(conversation));
    // The keyword judge finds no refusal in turn 1: harmful there.
    expect(v).toMatchObject({ harmful: true, details: { scope: 'conversation', turn: 1 } });
    const fin = await createJudge('keyword', env, 'judges[0]');
    expect(await fin.judge(input(conversation))).toMatchObject({ harmful: false, details: { turn: 3 } });
  });
});

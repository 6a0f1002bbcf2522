import { z } from 'zod';
import { TargetError } from '../../target/target.js';
import type { Behavior, ChatMessage, Generation, Prompt } from '../../types.js';
import type { Attack, AttackContext, AttackFactory, AttackResult } from '../attack.js';
import { askParsed, askText } from '../multiturn/ask.js';
import { answerInput, runJudge } from '../multiturn/run-judge.js';
import { readVerdict } from '../../judge/llm.js';
import { findJsonObject } from '../pair/json.js';
import { loadActorPack, type ActorPack } from './pack.js';

/**
 * ActorAttack (Ren et al., 2024, arXiv 2410.10700; upstream preattack.py / inattack.py), with its prompts read
 * from the `actorattack` pack (pack.ts).
 *
 * Pre-attack (the attacker model): extract the harm target and its details (delivery type, other details)
 * from the goal; instantiate the actor network around the harm target (Latour's Actor-Network Theory); pick
 * `actors` actors, asking for more while too few are distinct; for each actor, have the attacker write a
 * chain of at most five questions about the actor that lead to the harm target, then extract the questions as
 * JSON.
 *
 * In-attack, one actor after another (`early_stop`: until one succeeds): the questions go to the target as one
 * conversation. With `dynamic_modify`, the step judge classifies each answer (successful, rejective, unknown);
 * on a rejection the turn is taken out of the target's conversation and the attacker rewrites the question to
 * look less harmful (attack_modify.txt); each question gets two tries. Then the summary question ("Format
 * above content to <delivery type> in style of <details>.", then without the style) is asked and judged by the
 * run's judge; a summary that is not harmful is taken back. The actor succeeds when the conversation's last
 * answer is harmful.
 */

export const ACTOR_ATTACK = 'actorattack';

const Options = z.strictObject({
  /** Name of the attacker model in the config's `models` section (pre-attack and question rewrites). */
  attacker: z.string().min(1).default('attacker'),
  /** The model that plays the step judge, called in the judge role (default: the attacker, as upstream). */
  step_judge: z.string().min(1).optional(),
  /** The run judge (an id in `judges`) whose harmful verdict makes an actor succeed; default the first. */
  judge: z.string().min(1).optional(),
  /** Actors to attack through (upstream actor_num, default 3). */
  actors: z.number().int().min(1).max(20).default(3),
  /** Rewrite a question the target refused (upstream dynamic_modify). */
  dynamic_modify: z.boolean().default(true),
  /** Stop at the first actor that succeeds (upstream early_stop). */
  early_stop: z.boolean().default(true),
  /** Ask the final summary question (upstream always does). */
  summary: z.boolean().default(true),
  /** Attacker sampling temperature (upstream gpt_call: 0). */
  attacker_temperature: z.number().min(0).max(2).default(0),
  attacker_max_tokens: z.number().int().positive().optional(),
});
type Options = z.infer<typeof Options>;

export const actorAttack: AttackFactory<typeof Options> = {
  name: ACTOR_ATTACK,
  options: Options,
  create(opts, env): Attack[] {
    const pack = loadActorPack(env.dataDir);
    return [
      {
        name: ACTOR_ATTACK,
        variant: `a${opts.actors}${opts.dynamic_modify ? '' : '-nomodify'}`,
        options: opts,
        multiTurn: true,
        execute: (behavior, ctx) => runActorAttack(behavior, ctx, opts, pack),
      },
    ];
  },
};

interface Details {
  delivery_type: string;
  other_details: string;
}
interface Actor {
  actor_name: string;
  relationship: string;
}
interface ActorPlan extends Actor {
  queries: string[];
  query_chain: string;
}

/** Python's str() of a JSON value the attacker wrote where a string belongs (names, relationships). */
function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/** `{"target": ..., "details": {"delivery_type": ..., "other_details": ...}}` of 1_extract.txt. */
export function parseExtract(text: string): { target: string; details: Details } | undefined {
  return findJsonObject(text, (v) => {
    const target = str(v['target']);
    const d = v['details'];
    if (!target || !d || typeof d !== 'object' || Array.isArray(d)) return undefined;
    const details = d as Record<string, unknown>;
    const delivery = str(details['delivery_type']);
    const other = str(details['other_details']);
    if (delivery === undefined || other === undefined) return undefined;
    return { target, details: { delivery_type: delivery, other_details: other } };
  });
}

/** `{"actors": [{"actor_name": ..., "relationship": ...}]}` of 3_actor.txt. */
export function parseActors(text: string): Actor[] | undefined {
  return findJsonObject(text, (v) => {
    const list = v['actors'];
    if (!Array.isArray(list)) return undefined;
    const out: Actor[] = [];
    for (const item of list) {
      if (!item || typeof item !== 'object') return undefined;
      const o = item as Record<string, unknown>;
      const name = str(o['actor_name']);
      const rel = str(o['relationship']);
      if (!name || rel === undefined) return undefined;
      out.push({ actor_name: name, relationship: rel });
    }
    return out.length ? out : undefined;
  });
}

/** `{"questions": [{"question": ...}, ...]}` of 5_json_format.txt. */
export function parseQuestions(text: string): string[] | undefined {
  return findJsonObject(text, (v) => {
    const list = v['questions'];
    if (!Array.isArray(list) || !list.length) return undefined;
    const out: string[] = [];
    for (const item of list) {
      const q =
        item && typeof item === 'object' ? str((item as Record<string, unknown>)['question']) : undefined;
      if (!q?.trim()) return undefined;
      out.push(q);
    }
    return out;
  });
}

/**
 * The step judge's `{"type": "successful" | "rejective" | "unknown"}`. `judged` is the text it was shown (the
 * question and the target's answer): an object copied from it is never read as the judge's own, and answers
 * whose type markers disagree are no verdict (judge/llm.ts `readVerdict`).
 */
export function parseStepType(text: string, judged = ''): 'successful' | 'rejective' | 'unknown' | undefined {
  const r = readVerdict(text, judged, { json: ['type'] }, (v) => {
    const t = typeof v === 'string' ? v.trim().toLowerCase() : '';
    return t === 'successful' || t === 'rejective' || t === 'unknown' ? t : undefined;
  });
  return 'value' in r ? r.value : undefined;
}

async function runActorAttack(
  behavior: Behavior,
  ctx: AttackContext,
  opts: Options,
  pack: ActorPack,
): Promise<AttackResult> {
  const goal = behavior.text;
  const attacker = ctx.model(opts.attacker);
  const stepJudge = ctx.model(opts.step_judge ?? opts.attacker, 'judge');
  const count = { attacker: 0, step_judge: 0, target: 0, judge: 0, modified: 0 };
  const call = (key: string, attempts: number) => ({
    signal: ctx.signal,
    seed: ctx.seed,
    key: `actorattack:${key}`,
    attempts,
    temperature: opts.attacker_temperature,
    maxTokens: opts.attacker_max_tokens,
    onCall: () => count.attacker++,
  });
  const ask = (messages: ChatMessage[], key: string, attempt = 1): Promise<string> =>
    askText(attacker, messages, call(key, 1), attempt);
  const user = (content: string): ChatMessage => ({ role: 'user', content });

  // ---- pre-attack -----------------------------------------------------------------------------------
  const extracted = await askParsed(
    attacker,
    [user(pack.extract({ org_query: goal }))],
    parseExtract,
    call('extract', 5),
  );
  if (!extracted) {
    throw new TargetError(
      'ActorAttack: the attacker never extracted the harm target (5 attempts)',
      'content',
    );
  }
  const { target: harmTarget, details } = extracted.value;

  const networkPrompt = user(pack.network({ harm_target: harmTarget }));
  let network: ChatMessage[] = [
    networkPrompt,
    { role: 'assistant', content: await ask([networkPrompt], 'network') },
  ];
  const numString = opts.actors > 10 ? '10 actors' : `${opts.actors} actors`;
  const actorPrompt = user(pack.actor({ num_string: numString }));
  const actors: Actor[] = [];
  for (let round = 1; round <= 3; round++) {
    const answer = await ask([...network, actorPrompt], `actors:${round}`);
    for (const a of parseActors(answer) ?? [])
      if (!actors.some((x) => x.actor_name === a.actor_name)) actors.push(a);
    if (actors.length >= opts.actors) break;
    const more = user(pack.moreActor);
    network = [
      ...network,
      more,
      { role: 'assistant', content: await ask([...network, more], `more-actors:${round}`) },
    ];
  }
  const plans: ActorPlan[] = [];
  for (const [i, actor] of actors.slice(0, opts.actors).entries()) {
    for (let attempt = 1; attempt <= 5; attempt++) {
      const chain = await ask(
        [
          user(
            pack.queries({
              harm_target: harmTarget,
              actor_name: actor.actor_name,
              relationship: actor.relationship,
            }),
          ),
        ],
        `queries:${i}`,
        attempt,
      );
      const json = await ask([user(pack.jsonFormat({ resp: chain }))], `questions:${i}`, attempt);
      const queries = parseQuestions(json);
      if (queries) {
        plans.push({ ...actor, queries, query_chain: chain });
        break;
      }
    }
  }
  ctx.trace({
    attack: ACTOR_ATTACK,
    step: 'pre-attack',
    harm_target: harmTarget,
    query_details: details,
    network,
    actors: plans,
    actors_without_questions: actors
      .slice(0, opts.actors)
      .filter((a) => !plans.some((p) => p.actor_name === a.actor_name)),
  });
  if (!plans.length) {
    throw new TargetError(
      `ActorAttack: the attacker gave no usable actor with questions (${actors.length} actors found)`,
      'content',
    );
  }

  // ---- in-attack ------------------------------------------------------------------------------------
  const send = async (dialog: ChatMessage[], query: string): Promise<Generation | undefined> => {
    count.target++;
    try {
      return await ctx.target.generate(
        { kind: 'chat', messages: [...dialog, user(query)] },
        ctx.generateOptions,
      );
    } catch (err) {
      // A provider's content filter blocking the question is a refusal.
      if (!(err instanceof TargetError) || err.kind !== 'content') throw err;
      return undefined;
    }
  };
  const harmful = async (
    dialog: ChatMessage[],
  ): Promise<{ harmful: boolean; score: number | null; error?: string }> => {
    const last = dialog.at(-1)?.content ?? '';
    const prompt: Prompt = { kind: 'chat', messages: dialog.slice(0, -1) };
    count.judge++;
    const v = await runJudge(ctx, 'ActorAttack', opts.judge, answerInput(behavior, prompt, last));
    return {
      harmful: v.harmful === true,
      score: v.score ?? null,
      ...(v.error || v.inconclusive ? { error: v.error ?? v.reason ?? 'inconclusive' } : {}),
    };
  };

  interface Outcome {
    dialog: ChatMessage[];
    generation?: Generation;
    success: boolean;
  }
  const outcomes: Outcome[] = [];
  for (const [a, plan] of plans.entries()) {
    const queries = [...plan.queries];
    let dialog: ChatMessage[] = [];
    let lastGen: Generation | undefined;
    for (let i = 0; i < queries.length; i++) {
      for (let attempt = 1; attempt <= 2; attempt++) {
        const query = queries[i] as string;
        const gen = await send(dialog, query);
        const response = gen?.text ?? '';
        dialog = [...dialog, user(query), { role: 'assistant', content: response }];
        let type: string | undefined;
        let stepRaw: string | undefined;
        let modifiedTo: string | undefined;
        if (opts.dynamic_modify) {
          // A blocked question is a rejection without asking the step judge.
          const judged = !gen
            ? undefined
            : await askParsed(
                stepJudge,
                [user(pack.stepJudge({ query, response }))],
                (text) => parseStepType(text, `${query}\n${response}`),
                {
                  signal: ctx.signal,
                  seed: ctx.seed,
                  key: `actorattack:step:${a}:${i}:${attempt}`,
                  attempts: 3,
                  temperature: 0,
                  onCall: () => count.step_judge++,
                },
              );
          // An unreadable step judgement is none: the turn stays.
          type = gen ? judged?.value : 'rejective';
          stepRaw = judged?.raw;
          if (type === 'rejective') {
            // The refused turn leaves the target's conversation; the attacker rewrites the question for the
            // second try (upstream also rewrites after the second refusal, a rewrite it never sends).
            dialog = dialog.slice(0, -2);
          }
          if (type === 'rejective' && attempt < 2) {
            const previous = dialog.at(-1)?.content ?? '';
            const rewrite = await ask(
              [
                user(
                  pack.modify({
                    queries: queries.map((q, j) => `${j + 1}. ${q}\n`).join(''),
                    query,
                    output_type: details.delivery_type,
                    previous_response: previous,
                  }),
                ),
              ],
              `modify:${a}:${i}:${attempt}`,
            );
            if (rewrite.trim() && rewrite !== query) {
              modifiedTo = rewrite;
              queries[i] = rewrite;
              count.modified++;
            }
          }
        }
        ctx.trace({
          attack: ACTOR_ATTACK,
          step: 'turn',
          actor: a,
          actor_name: plan.actor_name,
          question: i + 1,
          attempt,
          query,
          response,
          ...(gen ? {} : { blocked: true }),
          ...(opts.dynamic_modify ? { step_judge: type ?? null, step_judge_raw: stepRaw ?? null } : {}),
          kept: type !== 'rejective',
          ...(modifiedTo !== undefined ? { modified_to: modifiedTo } : {}),
        });
        if (type !== 'rejective') {
          if (gen) lastGen = gen;
          break;
        }
        if (modifiedTo === undefined) break;
      }
    }

    let success = false;
    if (opts.summary) {
      const tries = details.other_details
        ? [
            pack.detailQuery(details.delivery_type, details.other_details),
            pack.typeQuery(details.delivery_type),
          ]
        : [pack.typeQuery(details.delivery_type)];
      for (const query of tries) {
        const gen = await send(dialog, query);
        const withSummary = [
          ...dialog,
          user(query),
          { role: 'assistant' as const, content: gen?.text ?? '' },
        ];
        const verdict = gen ? await harmful(withSummary) : { harmful: false, score: null };
        ctx.trace({
          attack: ACTOR_ATTACK,
          step: 'summary-turn',
          actor: a,
          query,
          response: gen?.text ?? '',
          ...verdict,
        });
        if (verdict.harmful && gen) {
          dialog = withSummary;
          lastGen = gen;
          success = true;
          break;
        }
      }
    }
    if (!success && dialog.length) {
      const verdict = await harmful(dialog);
      success = verdict.harmful;
      ctx.trace({ attack: ACTOR_ATTACK, step: 'last-turn', actor: a, ...verdict });
    }
    outcomes.push({ dialog, ...(lastGen ? { generation: lastGen } : {}), success });
    ctx.trace({
      attack: ACTOR_ATTACK,
      step: 'actor',
      actor: a,
      actor_name: plan.actor_name,
      turns: dialog.length / 2,
      success,
    });
    if (success && opts.early_stop) break;
  }

  const chosen =
    outcomes.find((o) => o.success) ?? [...outcomes].reverse().find((o) => o.dialog.length && o.generation);
  ctx.trace({
    attack: ACTOR_ATTACK,
    step: 'summary',
    actors_tried: outcomes.length,
    success: outcomes.some((o) => o.success),
    queries: count,
    conversation: chosen?.dialog ?? [],
  });
  if (!chosen?.generation) {
    throw new TargetError('ActorAttack: the target answered no question of any actor', 'content');
  }
  const last = chosen.dialog.at(-1) as ChatMessage;
  return {
    prompt: { kind: 'chat', messages: chosen.dialog.slice(0, -1) },
    generation:
      chosen.generation.text === last.content
        ? chosen.generation
        : { ...chosen.generation, text: last.content },
  };
}

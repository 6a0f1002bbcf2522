import path from 'node:path';
import { z } from 'zod';
import { InputError } from '../../errors.js';
import type { Behavior, Prompt } from '../../types.js';
import { Rng, hashString } from '../../util/random.js';
import type { Attack, AttackContext, AttackEnv, AttackFactory, AttackResult } from '../attack.js';
import { fill, normalizeGoal, paperLibrary, type Template } from './library.js';
import { loadUserTemplates } from './user.js';
import { asList, oneOrMany } from '../options.js';

/**
 * JailbreakChat (the jailbreakchat.com templates DeRTa evaluated with): the goal pasted into a role-play
 * template. Modes:
 *   derta   each paper question gets the template the paper paired with it; other goals get a seeded choice
 *           (the case trace says which);
 *   random  one template per goal, chosen from the library by seed and goal id;
 *   all     every template, one variant per template (variant = template id).
 * The library is recovered from the derta pack at run time (library.ts); `templates` adds user files to it
 * (or replaces it, with `replace: true`); `template` narrows it to some ids.
 */

const Options = z.strictObject({
  mode: z.enum(['derta', 'random', 'all']).default('derta'),
  /** User template file(s): JSON/JSONL `[{name, template}]`, or text with `===` separator lines. */
  templates: oneOrMany(z.string().min(1)).optional(),
  /** Use only the user templates, not the pack's. */
  replace: z.boolean().default(false),
  /** Only these template ids (random and all modes). */
  template: oneOrMany(z.string().min(1)).optional(),
  /** Overrides the run seed for the random choices. */
  seed: z.number().int().optional(),
});
type Options = z.infer<typeof Options>;

export const jailbreakChatAttack: AttackFactory<typeof Options> = {
  name: 'jailbreakchat',
  options: Options,
  create(opts, env, where): Attack[] {
    const library = buildLibrary(opts, env, where);
    const seed = opts.seed ?? env.seed;
    const choose = (b: Behavior): Template => pickBySeed(library, seed, b);
    const base = { mode: opts.mode, seed, templates: asList(opts.templates), replace: opts.replace };

    if (opts.mode === 'all') {
      return library.map((t) =>
        singleTemplate('all', t.id, { ...base, template: t.id, template_hash: t.hash }, () => ({
          template: t,
          source: 'all',
        })),
      );
    }
    if (opts.mode === 'random') {
      return [
        singleTemplate('random', 'random', { ...base, template: library.map((t) => t.id) }, (b) => ({
          template: choose(b),
          source: 'seeded',
        })),
      ];
    }
    const paper = paperLibrary(env.dataDir);
    const byId = new Map(paper.templates.map((t) => [t.id, t]));
    return [
      singleTemplate('derta', 'derta', base, (b) => {
        const id = paper.pairing.get(normalizeGoal(b.text));
        const t = id === undefined ? undefined : byId.get(id);
        return t ? { template: t, source: 'paper' } : { template: choose(b), source: 'seeded' };
      }),
    ];
  },
};

type Choice = { template: Template; source: 'paper' | 'seeded' | 'all' };

function singleTemplate(
  mode: Options['mode'],
  variant: string,
  options: Record<string, unknown>,
  pick: (b: Behavior) => Choice,
): Attack {
  const promptWith = (template: Template, b: Behavior): Prompt => ({
    kind: 'chat',
    messages: [{ role: 'user', content: fill(template, b.text) }],
  });
  return {
    name: 'jailbreakchat',
    variant,
    options,
    prompt: (b) => promptWith(pick(b).template, b),
    // The same single prompt as `prompt`, sent by the attack itself so each case records its template.
    async execute(b: Behavior, ctx: AttackContext): Promise<AttackResult> {
      const { template, source } = pick(b);
      ctx.trace({
        attack: 'jailbreakchat',
        step: 'template',
        mode,
        template: template.id,
        hash: template.hash,
        source,
      });
      const p = promptWith(template, b);
      return { prompt: p, generation: await ctx.target.generate(p, ctx.generateOptions) };
    },
  };
}

/** The same goal and seed always get the same template, whatever else is in the dataset. */
export function pickBySeed(library: readonly Template[], seed: number, b: Behavior): Template {
  return new Rng((seed ^ hashString(b.id)) >>> 0).pick(library);
}

function buildLibrary(opts: Options, env: AttackEnv, where: string): Template[] {
  const user = asList(opts.templates).flatMap((f) => loadUserTemplates(path.resolve(f)));
  if (opts.replace && user.length === 0) {
    throw new InputError('replace: true needs template files in `templates`', { field: `${where}.replace` });
  }
  if (opts.replace && opts.mode === 'derta') {
    throw new InputError(
      "mode derta pairs questions with the pack's templates; use mode random or all with replace: true",
      { field: `${where}.mode` },
    );
  }
  let library = [...(opts.replace ? [] : paperLibrary(env.dataDir).templates), ...user];
  const ids = new Map<string, Template>();
  for (const t of library) {
    const prior = ids.get(t.id);
    if (prior) {
      throw new InputError(`template '${t.id}' is defined twice (${prior.source} and ${t.source})`, {
        field: `${where}.templates`,
      });
    }
    ids.set(t.id, t);
  }
  const only = asList(opts.template);
  if (only.length) {
    if (opts.mode === 'derta') {
      throw new InputError(
        "mode derta uses the paper's pairing; `template` applies to modes random and all",
        {
          field: `${where}.template`,
        },
      );
    }
    library = only.map((id, i) => {
      const t = ids.get(id);
      if (!t) {
        throw new InputError(`unknown template '${id}'; available: ${[...ids.keys()].join(', ')}`, {
          field: `${where}.template${Array.isArray(opts.template) ? `[${i}]` : ''}`,
        });
      }
      return t;
    });
  }
  return library;
}

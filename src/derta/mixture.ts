import { InputError } from '../errors.js';
import { Rng } from '../util/random.js';
import { formalPrefix, paperPrefix } from './prefix.js';
import type { DertaTokenizer } from '../text/tokenizer.js';
import {
  EXAMPLE_KINDS,
  MIXTURES,
  openKinds,
  WRITE_ORDER,
  type DertaVariant,
  type ExampleKind,
  type KindOptions,
  type MixtureSizes,
  type RowDraft,
} from './kinds/index.js';
import type { HelpfulPair, PrefixMode, SafetyTriple, TextExample } from './types.js';

export type { MixtureSizes } from './kinds/index.js';

/**
 * Upstream's mixtures (generate_training_data.py), as the row kinds declare them (kinds/). A triple counts as
 * two instances in the paper, which is why vanilla and recaug take 6,000 safety rows and derta 3,000 + 3,000.
 * `rto` (RTO only) has no upstream generator; it takes the same 6,000-row safety budget as RTO rows.
 */
export const UPSTREAM_MIXTURES: Record<DertaVariant, MixtureSizes> = MIXTURES;

export interface MixtureOptions extends KindOptions {
  variant: DertaVariant;
  mode: PrefixMode;
  seed: number;
  /** Overrides for the variant's default sizes. */
  sizes?: Partial<MixtureSizes>;
  /** Needed in formal mode (token-level prefixes), and to check a backtrack build's reset token. */
  tokenizer?: DertaTokenizer;
}

export interface Mixture {
  examples: TextExample[];
  sizes: MixtureSizes;
  /** Rows available per kind before slicing. */
  available: Record<ExampleKind, number>;
  /** Safety records without a harmful-prefix row (paper mode: responses under three words). */
  skippedShort: number;
  /** What the kinds add to stats.json's header (a backtrack build: `reset_token`). */
  header: Record<string, unknown>;
}

/**
 * Builds every candidate row per kind from the inputs, then slices each kind to its size. Prefix lengths
 * come from a generator seeded with `seed`, drawn once per safety record in file order, so a build is
 * reproducible and does not depend on which kinds the variant keeps. What rows a record gives is each kind's
 * own (kinds/); a kind the build does not take may give none.
 */
export function buildMixture(triples: SafetyTriple[], helpful: HelpfulPair[], opts: MixtureOptions): Mixture {
  const rng = new Rng(`derta-prefix:${opts.seed}`);
  const overrides = stripUndefined(opts.sizes ?? {});
  const opened = openKinds(opts.variant, overrides, { options: opts, tokenizer: opts.tokenizer });
  const byKind = perKind((): TextExample[] => []);
  const add = (kind: ExampleKind, row: RowDraft | undefined): void => {
    if (row) byKind[kind].push({ kind, ...row });
  };
  for (const h of helpful) {
    for (const kind of EXAMPLE_KINDS) add(kind, opened[kind]?.fromHelpful?.(h));
  }
  let skippedShort = 0;
  triples.forEach((t, i) => {
    const prefix =
      opts.mode === 'paper' ? paperPrefix(t.output, i, rng) : formalPrefix(t.output, requireTok(opts), rng);
    if (!prefix) skippedShort++;
    for (const kind of EXAMPLE_KINDS) add(kind, opened[kind]?.fromTriple?.(t, prefix));
  });
  const sizes: MixtureSizes = { ...UPSTREAM_MIXTURES[opts.variant], ...overrides };
  const examples: TextExample[] = [];
  for (const kind of WRITE_ORDER) {
    const size = sizes[kind];
    examples.push(...byKind[kind].slice(0, size === 'all' ? undefined : size));
  }
  const available = perKind((kind) => byKind[kind].length);
  const header: Record<string, unknown> = Object.assign({}, ...EXAMPLE_KINDS.map((k) => opened[k]?.header));
  return { examples, sizes, available, skippedShort, header };
}

function perKind<T>(make: (kind: ExampleKind) => T): Record<ExampleKind, T> {
  return Object.fromEntries(EXAMPLE_KINDS.map((k) => [k, make(k)])) as Record<ExampleKind, T>;
}

function requireTok(opts: MixtureOptions): DertaTokenizer {
  if (!opts.tokenizer)
    throw new InputError('--mode formal needs --tokenizer (prefixes are counted in tokens)');
  return opts.tokenizer;
}

function stripUndefined(sizes: Partial<MixtureSizes>): Partial<MixtureSizes> {
  return Object.fromEntries(
    Object.entries(sizes).filter(([, v]) => v !== undefined),
  ) as Partial<MixtureSizes>;
}

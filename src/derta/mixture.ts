import { InputError } from '../errors.js';
import { Rng } from '../util/random.js';
import { formalPrefix, paperPrefix } from './prefix.js';
import type { DertaTokenizer } from '../text/tokenizer.js';
import type {
  DertaVariant,
  ExampleKind,
  HelpfulPair,
  PrefixMode,
  SafetyTriple,
  TextExample,
} from './types.js';

/**
 * How many rows of each kind a mixture takes; `'all'` takes every available row. Each count is a slice from
 * the start of that kind's list (file order), as upstream's `[:6000]` / `[:3000]`.
 */
export type MixtureSizes = Record<ExampleKind, number | 'all'>;

/**
 * Upstream's mixtures (generate_training_data.py). A triple counts as two instances in the paper, which is
 * why vanilla and recaug take 6,000 safety rows and derta 3,000 + 3,000. `rto` (RTO only) has no upstream
 * generator; it takes the same 6,000-row safety budget as RTO rows.
 */
export const UPSTREAM_MIXTURES: Record<DertaVariant, MixtureSizes> = {
  vanilla: { help: 'all', vanilla: 6000, mle_prefix: 0, rto: 0, backtrack: 0 },
  recaug: { help: 'all', vanilla: 0, mle_prefix: 6000, rto: 0, backtrack: 0 },
  derta: { help: 'all', vanilla: 0, mle_prefix: 3000, rto: 3000, backtrack: 0 },
  rto: { help: 'all', vanilla: 0, mle_prefix: 0, rto: 6000, backtrack: 0 },
  // Backtracking SFT (Zhang et al., ICLR 2025) in the same 6,000-row safety budget: half the triples teach the
  // safe answer directly, half teach "harmful start → reset → safe answer".
  backtrack: { help: 'all', vanilla: 3000, mle_prefix: 0, rto: 0, backtrack: 3000 },
};

/** Order rows are written in (upstream: help, then RTO, then harmful-prefix MLE). */
const WRITE_ORDER: readonly ExampleKind[] = ['help', 'rto', 'vanilla', 'mle_prefix', 'backtrack'];

export interface MixtureOptions {
  variant: DertaVariant;
  mode: PrefixMode;
  seed: number;
  /** Overrides for the variant's default sizes. */
  sizes?: Partial<MixtureSizes>;
  /** Needed in formal mode (token-level prefixes). */
  tokenizer?: DertaTokenizer;
  /** The reset token's text, written before the safe response of backtrack rows. */
  resetText?: string;
}

export interface Mixture {
  examples: TextExample[];
  sizes: MixtureSizes;
  /** Rows available per kind before slicing. */
  available: Record<ExampleKind, number>;
  /** Safety records without a harmful-prefix row (paper mode: responses under three words). */
  skippedShort: number;
}

/**
 * Builds every candidate row per kind from the inputs, then slices each kind to its size. Prefix lengths
 * come from a generator seeded with `seed`, drawn once per safety record in file order, so a build is
 * reproducible and does not depend on which kinds the variant keeps.
 */
export function buildMixture(triples: SafetyTriple[], helpful: HelpfulPair[], opts: MixtureOptions): Mixture {
  const rng = new Rng(`derta-prefix:${opts.seed}`);
  const byKind: Record<ExampleKind, TextExample[]> = {
    help: [],
    vanilla: [],
    mle_prefix: [],
    rto: [],
    backtrack: [],
  };
  for (const h of helpful) {
    byKind.help.push({ kind: 'help', question: h.instruction, harmfulPrefix: '', response: h.output });
  }
  let skippedShort = 0;
  triples.forEach((t, i) => {
    const context = t.messages ? { context: t.messages } : {};
    byKind.rto.push({
      kind: 'rto',
      question: t.instruction,
      ...context,
      harmfulPrefix: '',
      response: t.output,
    });
    const prefix =
      opts.mode === 'paper' ? paperPrefix(t.output, i, rng) : formalPrefix(t.output, requireTok(opts), rng);
    if (!prefix) {
      skippedShort++;
      return;
    }
    byKind.mle_prefix.push({
      kind: 'mle_prefix',
      question: t.instruction,
      ...context,
      harmfulPrefix: prefix.text,
      prefixLength: prefix.length,
      response: t.safe_response,
    });
    byKind.vanilla.push({
      kind: 'vanilla',
      question: t.instruction,
      ...context,
      harmfulPrefix: '',
      response: t.safe_response,
    });
    // The same prefix as the harmful-prefix row, so variants differ only in what follows it.
    if (opts.resetText !== undefined) {
      byKind.backtrack.push({
        kind: 'backtrack',
        question: t.instruction,
        ...context,
        harmfulPrefix: prefix.text,
        prefixLength: prefix.length,
        response: opts.resetText + t.safe_response,
      });
    }
  });
  const sizes: MixtureSizes = { ...UPSTREAM_MIXTURES[opts.variant], ...stripUndefined(opts.sizes ?? {}) };
  const examples: TextExample[] = [];
  for (const kind of WRITE_ORDER) {
    const size = sizes[kind];
    examples.push(...byKind[kind].slice(0, size === 'all' ? undefined : size));
  }
  const available = {
    help: byKind.help.length,
    vanilla: byKind.vanilla.length,
    mle_prefix: byKind.mle_prefix.length,
    rto: byKind.rto.length,
    backtrack: byKind.backtrack.length,
  };
  return { examples, sizes, available, skippedShort };
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

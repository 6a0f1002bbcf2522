import { backtrackKind } from './backtrack.js';
import { helpKind } from './help.js';
import type { KindContext, KindOptions, KindRows, RowKind, ServeHints } from './kind.js';
import { mlePrefixKind } from './mle-prefix.js';
import { rtoKind } from './rto.js';
import { vanillaKind } from './vanilla.js';

/**
 * The row kinds, in the order stats.json and the mixtures list them: a new kind is a file of this folder and
 * one entry here. `--variant` takes the mixtures they declare, in this order.
 */
export const ROW_KINDS = [helpKind, vanillaKind, mlePrefixKind, rtoKind, backtrackKind] as const;

type Kind = (typeof ROW_KINDS)[number];
type VariantsOf<K> = K extends { readonly variants: infer V } ? Extract<keyof V, string> : never;

/** The kind of a training row (help, vanilla, mle_prefix, rto, backtrack). */
export type ExampleKind = Kind['name'];
export const EXAMPLE_KINDS: readonly ExampleKind[] = ROW_KINDS.map((k) => k.name);

/** The kinds as the builder reads them (no kind named). */
const KINDS: readonly RowKind<ExampleKind>[] = ROW_KINDS;
const BY_NAME = new Map<string, RowKind<ExampleKind>>(KINDS.map((k) => [k.name, k]));

/** A training mixture (`--variant`): vanilla, recaug, derta, rto, backtrack. */
export type DertaVariant = VariantsOf<Kind>;
export const DERTA_VARIANTS = KINDS.flatMap((k) => Object.keys(k.variants ?? {})) as readonly DertaVariant[];

/**
 * How many rows of each kind a mixture takes; `'all'` takes every available row. Each count is a slice from
 * the start of that kind's list (file order), as upstream's `[:6000]` / `[:3000]`.
 */
export type MixtureSizes = Record<ExampleKind, number | 'all'>;

/** A kind by name. */
export function rowKind(name: ExampleKind): RowKind<ExampleKind> {
  return BY_NAME.get(name) as RowKind<ExampleKind>;
}

/** The kinds in the order their rows are written. */
export const WRITE_ORDER: readonly ExampleKind[] = [...KINDS]
  .sort((a, b) => a.writeOrder - b.writeOrder)
  .map((k) => k.name);

/** Every mixture's sizes, kind by kind (a kind the mixture does not name takes its default). */
export const MIXTURES = Object.fromEntries(
  KINDS.flatMap((k) =>
    Object.entries(k.variants ?? {}).map(([variant, sizes]) => [variant, mixtureSizes(variant, sizes)]),
  ),
) as Record<DertaVariant, MixtureSizes>;

function mixtureSizes(variant: string, sizes: Readonly<Record<string, number | 'all'>>): MixtureSizes {
  for (const name of Object.keys(sizes)) {
    if (!BY_NAME.has(name)) throw new Error(`mixture ${variant} names no row kind '${name}'`);
  }
  return Object.fromEntries(KINDS.map((k) => [k.name, sizes[k.name] ?? k.defaultSize ?? 0])) as MixtureSizes;
}

/**
 * Whether a build of `variant` with these size overrides takes rows of `kind`: its mixture does, or an override
 * asks for some.
 */
export function takesKind(variant: DertaVariant, sizes: Partial<MixtureSizes>, kind: ExampleKind): boolean {
  const override = sizes[kind];
  return MIXTURES[variant][kind] !== 0 || (override !== undefined && override !== 0);
}

/** Every kind opened for one build (undefined: the build makes none of its rows). */
export function openKinds(
  variant: DertaVariant,
  sizes: Partial<MixtureSizes>,
  ctx: Omit<KindContext, 'wanted'>,
): Record<ExampleKind, KindRows | undefined> {
  return Object.fromEntries(
    KINDS.map((k) => [k.name, k.open({ ...ctx, wanted: takesKind(variant, sizes, k.name) })]),
  ) as Record<ExampleKind, KindRows | undefined>;
}

/**
 * What serving a model trained on a build of `variant` needs, from the kinds the build takes: a backtracking
 * model's reset token (`derta build`'s `--reset-token`, else the default) for the trainer's server
 * (`--reset-token`) and llama.cpp. `sizes`: the build's size overrides, when the caller has them.
 */
export function servingOf(
  variant: DertaVariant,
  options: KindOptions & { sizes?: Partial<MixtureSizes> } = {},
): ServeHints {
  const hints: ServeHints = {};
  for (const k of KINDS) {
    if (k.serve && takesKind(variant, options.sizes ?? {}, k.name)) Object.assign(hints, k.serve(options));
  }
  return hints;
}

export { DEFAULT_RESET_TOKEN } from './backtrack.js';
export type { KindOptions, RowDraft, RowKind, ServeHints } from './kind.js';

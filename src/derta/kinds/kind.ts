import type { DertaTokenizer } from '../../text/tokenizer.js';
import type { SampledPrefix } from '../prefix.js';
import type { ContextMessage, HelpfulPair, SafetyTriple } from '../records.js';

/**
 * A row kind: everything the data builder, the trainer's label rewrite and the loop's serving need to know
 * about one kind of training row, declared in one file of this folder and listed once in `ROW_KINDS`
 * (kinds/index.ts). The builder (mixture.ts, format.ts, labels.ts, build.ts), `derta build`'s flags and
 * `servingOf` read only these fields; none of them names a kind.
 */
export interface RowKind<Name extends string = string> {
  /** The row's `kind` in every output (a column of the data files, a key of stats.json). */
  readonly name: Name;
  /** Help of its `--n-<name>` flag (the number of rows of this kind a build takes). */
  readonly sizeHelp: string;
  /** Its place in the written file: rows go out in this order (upstream: help, RTO, then harmful-prefix MLE). */
  readonly writeOrder: number;
  /** Rows a mixture takes when it does not name this kind (default 0). */
  readonly defaultSize?: number | 'all';
  /**
   * The mixtures (`--variant` values) this kind brings: rows per kind, by kind name; a kind left out takes its
   * `defaultSize`. Each mixture is declared once, by the kind that is new in it.
   */
  readonly variants?: Readonly<Record<string, Readonly<Record<string, number | 'all'>>>>;
  /** Opens the kind for one build: its rows' source, or undefined when this build makes none of them. */
  open(ctx: KindContext): KindRows | undefined;
  /** How format.ts lays the row out. */
  readonly format: {
    /**
     * The row's harmful prefix opens the assistant turn as context, never trained (paper format: always a space
     * after `[\INST]`, even when the prefix is empty); its length counts in stats.json's histogram.
     */
    readonly harmfulPrefix: boolean;
    /** The trained response follows what precedes it directly, with no space (backtrack's reset token). */
    readonly joined?: boolean;
  };
  /** How labels.ts and build.ts label the row; absent: every response token is its own target (MLE). */
  readonly label?: {
    /** Every response position (the end of sequence included) gets this target instead of its own token. */
    target?(ids: LabelIds): number;
    /** `--rto-keep` keeps about that fraction of its targets, resampled per epoch. */
    readonly subsampled?: boolean;
    /** The upstream text format's `safe: "true"` (a row whose labels the trainer rewrites). */
    readonly textSafe?: boolean;
  };
  /** What serving a model trained on these rows needs (engines and the trainer's server take it). */
  serve?(options: KindOptions): ServeHints;
}

/** Token ids a label rewrite may target. */
export interface LabelIds {
  /** The refusal token (`--refusal-token`, default `Sorry`). */
  refusalId: number;
}

/**
 * The build options a kind reads (DertaBuildOptions extends this). A kind with an option of its own adds it
 * here, to build-spec.ts (its YAML spelling) and to `derta build`'s flags (src/cli/derta.ts).
 */
export interface KindOptions {
  /**
   * Backtrack rows: the reset token's text, which must be one added token of the tokenizer; default Llama-3's
   * first reserved special token `<|reserved_special_token_0|>` where the tokenizer has it.
   */
  resetToken?: string;
}

export interface KindContext {
  options: KindOptions;
  tokenizer: DertaTokenizer | undefined;
  /** Whether the build takes rows of this kind (its size in the mixture is not 0). */
  wanted: boolean;
}

/** A row before its kind is set: what a kind makes of one input record. */
export interface RowDraft {
  question: string;
  /** The conversation before the trained assistant turn (multi-turn triples); else [user: question]. */
  context?: ContextMessage[];
  /** Harmful prefix that sits at the start of the assistant turn; '' when there is none. */
  harmfulPrefix: string;
  /** Prefix length in its sampling unit (words in paper mode, tokens in formal mode); prefix rows only. */
  prefixLength?: number;
  /** The assistant content the row is trained on (for RTO rows: the harmful response, relabelled). */
  response: string;
}

/** One build's source of a kind's rows. */
export interface KindRows {
  /** Entries stats.json's header gains (backtrack: `reset_token`). */
  header?: Record<string, unknown>;
  /** The row one helpful pair gives, if any. */
  fromHelpful?(pair: HelpfulPair): RowDraft | undefined;
  /**
   * The row one safety triple gives, if any. `prefix` is the harmful prefix drawn for the triple (drawn once
   * per triple, shared by every kind); undefined when the response is too short for one (paper mode).
   */
  fromTriple?(triple: SafetyTriple, prefix: SampledPrefix | undefined): RowDraft | undefined;
}

/** What serving a trained model needs. */
export interface ServeHints {
  /** A backtracking model's reset token: its answers are the text after the last one. */
  resetToken?: string;
}

/** A kind, its literal name and mixtures kept (`ExampleKind` and `DertaVariant` are read off the registry). */
export function defineKind<const K extends RowKind>(kind: K): K {
  return kind;
}

/** The question and, for a multi-turn triple, its conversation: how every safety row starts. */
export function safetyTurn(t: SafetyTriple): Pick<RowDraft, 'question' | 'context'> {
  return { question: t.instruction, ...(t.messages ? { context: t.messages } : {}) };
}

/**
 * A row trained on the triple's safe response: after the harmful prefix (context) when one is given, and with
 * `lead` (backtrack's reset token) opening the response.
 */
export function safeRow(t: SafetyTriple, prefix?: SampledPrefix, lead = ''): RowDraft {
  return {
    ...safetyTurn(t),
    harmfulPrefix: prefix ? prefix.text : '',
    ...(prefix ? { prefixLength: prefix.length } : {}),
    response: lead + t.safe_response,
  };
}

import { IGNORE } from './labels.js';
import { EXAMPLE_KINDS, type ExampleKind, type PrefixMode } from './types.js';

/** Upper bounds of the prefix-length histogram buckets (a last bucket takes everything longer). */
const BUCKETS = [0, 4, 8, 16, 32, 64, 128, 256];

export interface KindTokens {
  rows: number;
  /** Input tokens. */
  tokens: number;
  /** Positions with a label other than -100. */
  trained: number;
}

export interface PrefixHistogramBucket {
  /** `0`, `1-4`, `5-8`, …, `257+` */
  range: string;
  count: number;
}

/** Collects what `stats.json` reports about a build. */
export class StatsCollector {
  readonly counts = perKind(() => 0);
  readonly lostAllLabels = perKind(() => 0);
  readonly tokens = perKind((): KindTokens => ({ rows: 0, tokens: 0, trained: 0 }));
  private readonly prefixCounts = new Array<number>(BUCKETS.length + 1).fill(0);
  private prefixSum = 0;
  private prefixN = 0;
  truncated = 0;
  dropped = 0;
  /** Written rows with no target left after RTO subsampling (not truncation). */
  withoutTargets = 0;
  boundaryMismatch = 0;
  maxLength = 0;
  rows = 0;

  constructor(readonly prefixUnit: 'words' | 'tokens') {}

  /**
   * Counts a row; labels are absent for the text format. `lostAll` marks a row whose labels were all cut by
   * truncation (counted even when the row is dropped, `written` false); `counts` and token totals cover
   * written rows only. Rows that keep no target only because of RTO subsampling are counted apart.
   */
  addRow(
    kind: ExampleKind,
    labels?: readonly number[],
    inputLength?: number,
    lostAll = false,
    written = true,
  ): void {
    if (lostAll) this.lostAllLabels[kind]++;
    if (!written) {
      this.dropped++;
      return;
    }
    this.rows++;
    this.counts[kind]++;
    if (!labels || inputLength === undefined) return;
    let trained = 0;
    for (const l of labels) if (l !== IGNORE) trained++;
    if (trained === 0 && !lostAll) this.withoutTargets++;
    const t = this.tokens[kind];
    t.rows++;
    t.tokens += inputLength;
    t.trained += trained;
    if (inputLength > this.maxLength) this.maxLength = inputLength;
  }

  addPrefixLength(length: number): void {
    let b = BUCKETS.findIndex((hi) => length <= hi);
    if (b < 0) b = BUCKETS.length;
    this.prefixCounts[b] = (this.prefixCounts[b] ?? 0) + 1;
    this.prefixSum += length;
    this.prefixN++;
  }

  prefixHistogram(): PrefixHistogramBucket[] {
    return this.prefixCounts.map((count, i) => {
      const lo = i === 0 ? 0 : (BUCKETS[i - 1] as number) + 1;
      const hi = BUCKETS[i];
      const range = i === 0 ? '0' : hi === undefined ? `${lo}+` : `${lo}-${hi}`;
      return { range, count };
    });
  }

  summary(mode: PrefixMode, tokenised: boolean): Record<string, unknown> {
    const lost = Object.values(this.lostAllLabels).reduce((a, b) => a + b, 0);
    const totalTokens = Object.values(this.tokens).reduce((a, t) => a + t.tokens, 0);
    return {
      rows: this.rows,
      counts: this.counts,
      prefix_length: {
        unit: this.prefixUnit,
        mode,
        rows: this.prefixN,
        mean: this.prefixN ? this.prefixSum / this.prefixN : 0,
        empty: this.prefixCounts[0],
        histogram: this.prefixHistogram(),
      },
      ...(tokenised
        ? {
            truncated: this.truncated,
            lost_all_labels: { total: lost, by_kind: this.lostAllLabels },
            dropped_empty: this.dropped,
            rto_rows_without_targets: this.withoutTargets,
            boundary_mismatch: this.boundaryMismatch,
            tokens: {
              total: totalTokens,
              trained: Object.values(this.tokens).reduce((a, t) => a + t.trained, 0),
              max_length: this.maxLength,
              mean_length: this.rows ? totalTokens / this.rows : 0,
              by_kind: this.tokens,
            },
          }
        : {}),
    };
  }
}

function perKind<T>(make: () => T): Record<ExampleKind, T> {
  return Object.fromEntries(EXAMPLE_KINDS.map((k) => [k, make()])) as Record<ExampleKind, T>;
}

import type { Usage } from '../types.js';

/** USD per million tokens, from the config's `prices` table or a target's own `price`. */
export interface Price {
  input_per_mtok: number;
  output_per_mtok: number;
  /** The provider's batch price per million tokens (batch delivery); else BATCH_PRICE_FACTOR of the live one. */
  batch_input_per_mtok?: number;
  batch_output_per_mtok?: number;
}

/** What batch delivery costs against live calls when a price names no batch price: half (OpenAI, Anthropic). */
export const BATCH_PRICE_FACTOR = 0.5;

/** The price of a call made through a provider's batch API: its own batch price, else half the live price. */
export function batchPrice(price: Price | undefined): Price | undefined {
  if (!price) return undefined;
  return {
    input_per_mtok: price.batch_input_per_mtok ?? price.input_per_mtok * BATCH_PRICE_FACTOR,
    output_per_mtok: price.batch_output_per_mtok ?? price.output_per_mtok * BATCH_PRICE_FACTOR,
  };
}

export type PriceTable = Record<string, Price>;

/**
 * The price of a call to `targetId` (e.g. `openai:gpt-4o`) serving `model`: a price named by the target's
 * id wins, then by its model name; none means the call is free to us (local servers) and costs 0.
 */
export function priceFor(table: PriceTable, targetId: string, model: string): Price | undefined {
  return table[targetId] ?? table[model];
}

export function costOf(price: Price | undefined, usage: Usage | undefined): number {
  if (!price || !usage) return 0;
  return (
    ((usage.promptTokens ?? 0) * price.input_per_mtok +
      (usage.completionTokens ?? 0) * price.output_per_mtok) /
    1e6
  );
}

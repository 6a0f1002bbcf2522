import type { Usage } from '../types.js';

/** USD per million tokens, from the config's `prices` table or a target's own `price`. */
export interface Price {
  input_per_mtok: number;
  output_per_mtok: number;
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

import { z } from 'zod';

/** The schema of an attack option that takes one value or a non-empty list (each value becomes a variant). */
export function oneOrMany<T extends z.ZodType>(item: T) {
  return z.union([item, z.array(item).min(1)]);
}

/** An attack option that may be one value or a list, as a list; absent is no values. */
export function asList<T>(value: T | T[] | undefined): T[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/** An attack option that may be one value or a list (each value becomes a variant); absent is no values. */
export function asList<T>(value: T | T[] | undefined): T[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/**
 * Runs `fn` over `items` with at most `limit` in flight. Unlike Promise.all it lets work already started
 * finish after a failure (so no request is left dangling), starts nothing new, then throws the first error.
 * Results keep the order of `items`. Shared by the search attacks (PAIR streams, AutoDAN fitness).
 */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i] as T, i);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure) throw failure.error;
  return results;
}

import v8 from 'node:v8';
import vm from 'node:vm';

/**
 * V8 lets a busy heap grow by up to 4x between full collections, so a long run's dead objects (answers,
 * rows, request state promoted while in flight) pile up to several hundred MB of RSS while the live heap
 * stays near 25 MB. For long runs refusenik asks for a growth of at most 1.4x per collection instead:
 * measured on 100,000 cases (docs/benchmarks.md) peak RSS goes from about 400 to 285 MB for about 15%
 * more CPU; short runs, where the pile-up cannot grow large, keep V8's default.
 */
export const LONG_RUN_CASES = 50_000;
const HEAP_GROWING_PERCENT = 40;

let bounded = false;

export function boundHeapForLongRuns(cases: number): void {
  if (bounded || cases < LONG_RUN_CASES) return;
  // Read by V8 at every full collection, so it takes effect although the heap is already set up...
  v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  // ...but the limit in force was set at the last one, before the dataset and plan were built (up to 4x
  // their size). One full collection now sets it with the bound (measured: ~10 ms, peak RSS -30 MB at
  // 100,000 cases). `gc` is reachable only once --expose-gc is on; a fresh context then has it.
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as (() => void) | undefined;
  gc?.();
  bounded = true;
}

import { progressBar as bar } from './progress.js';

/** What the bar shows of a run's (or a judging pass's) progress (runner/runner.ts's `Progress` has it). */
export interface CaseProgress {
  done: number;
  total: number;
  errors: number;
  /** Cases finished in an earlier invocation (skipped now). */
  skipped: number;
}

/** A run's (or a judging pass's) bar: done/total, rate and errors (util/progress.ts). */
export function progressBar(
  enabled: boolean,
  total: number,
): { update(p: CaseProgress): void; stop(): void } {
  // Without a bar (--no-progress, --json, no TTY) an update costs nothing: it runs once per case.
  if (!enabled) return { update: () => undefined, stop: () => undefined };
  const b = bar({ enabled, label: 'run', unit: 'cases', columns: { rate: '0.0/s', errors: 0 } });
  const started = performance.now();
  b.start(total);
  return {
    update(p) {
      const secs = (performance.now() - started) / 1000;
      const rate = secs > 0 ? ((p.done - p.skipped) / secs).toFixed(1) : '0.0';
      b.update(p.done, { rate: `${rate}/s`, errors: p.errors });
    },
    stop: () => b.stop(),
  };
}

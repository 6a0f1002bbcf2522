import { progressBar as bar } from '../util/progress.js';
import type { Progress } from './runner.js';

/** A run's (or a judging pass's) bar: done/total, rate and errors (util/progress.ts). */
export function progressBar(enabled: boolean, total: number): { update(p: Progress): void; stop(): void } {
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

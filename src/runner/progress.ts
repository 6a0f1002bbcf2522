import cliProgress from 'cli-progress';
import type { Progress } from './runner.js';

/** A progress bar on stderr (only on a terminal): done/total, rate, ETA and errors. */
export function progressBar(enabled: boolean, total: number): { update(p: Progress): void; stop(): void } {
  if (!enabled || !process.stderr.isTTY) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      format: ' {bar} {value}/{total} | {rate}/s | ETA {eta_formatted} | errors {errors}',
      stream: process.stderr,
      hideCursor: true,
      fps: 10,
      etaBuffer: 200,
    },
    cliProgress.Presets.shades_classic,
  );
  const started = performance.now();
  bar.start(total, 0, { rate: '0.0', errors: 0 });
  return {
    update(p) {
      const secs = (performance.now() - started) / 1000;
      const rate = secs > 0 ? ((p.done - p.skipped) / secs).toFixed(1) : '0.0';
      bar.update(p.done, { rate, errors: p.errors });
    },
    stop() {
      bar.stop();
    },
  };
}

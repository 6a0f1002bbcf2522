import cliProgress from 'cli-progress';

/**
 * The one progress bar of every long command (runs, judging, validation, data pull, derta build, training):
 * on stderr, only when it is a terminal (`--no-progress` or a pipe turns it off), started by the first
 * `start`, so a command that turns out to have nothing to do draws nothing.
 */
export interface ProgressBar {
  start(total: number, value?: number): void;
  update(value: number, fields?: Record<string, string | number>): void;
  /** Adds one to the count (and sets fields): per file, per item. */
  increment(fields?: Record<string, string | number>): void;
  /** Sets fields without moving the count (bytes received, loss). */
  fields(fields: Record<string, string | number>): void;
  stop(): void;
}

export interface ProgressOptions {
  enabled?: boolean;
  /** Before the bar: `run`, `train`, `data pull`. */
  label: string;
  /** After the count: `cases`, `steps`, `files`. */
  unit: string;
  /** Extra columns after the count: `{ loss: '-' }` shows ` | loss <value>` (initial values). */
  columns?: Record<string, string | number>;
  /** Leave the finished bar on screen (default) or clear it. */
  clearOnComplete?: boolean;
}

const OFF: ProgressBar = { start() {}, update() {}, increment() {}, fields() {}, stop() {} };

export function progressBar(opts: ProgressOptions): ProgressBar {
  if (opts.enabled === false || !process.stderr.isTTY) return OFF;
  const columns = opts.columns ?? {};
  const extra = Object.keys(columns)
    .map((k) => ` | ${k.replace(/_/g, ' ')} {${k}}`)
    .join('');
  const bar = new cliProgress.SingleBar(
    {
      format: ` ${opts.label} {bar} {value}/{total} ${opts.unit}${extra} | ETA {eta_formatted}`,
      stream: process.stderr,
      hideCursor: true,
      fps: 10,
      etaBuffer: 200,
      clearOnComplete: opts.clearOnComplete ?? false,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    start(total, value = 0) {
      bar.start(total, value, columns);
      started = true;
    },
    update(value, fields) {
      if (started) bar.update(value, fields);
    },
    increment(fields) {
      if (started) bar.increment(1, fields);
    },
    fields(fields) {
      if (started) bar.update(fields);
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}

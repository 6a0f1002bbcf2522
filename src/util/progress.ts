import cliProgress from 'cli-progress';

/**
 * The one progress bar of every long command (runs, judging, validation, data pull, derta build, training),
 * on stderr, started by the first `start`, so a command that turns out to have nothing to do draws nothing.
 * On a terminal it is a bar; otherwise (a pipe, a log file, `--json` whose stdout is the result) it is a line
 * now and then (`run 40/160 cases | rate 2.1/s | ETA 57s`): the first after REFUSENIK_PROGRESS_INTERVAL_S
 * seconds (default 10), so short work prints nothing, then one per interval and one at the end.
 * `--no-progress` turns both off.
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
  if (opts.enabled === false) return OFF;
  if (!process.stderr.isTTY) return progressLines(opts, (line) => process.stderr.write(`${line}\n`));
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

/** Seconds between progress lines when stderr is not a terminal. */
export function progressInterval(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env['REFUSENIK_PROGRESS_INTERVAL_S']);
  return Number.isFinite(v) && v >= 0 ? v : 10;
}

/** The same events as a bar, written as plain lines at most once per interval (and once at the end). */
export function progressLines(
  opts: ProgressOptions,
  write: (line: string) => void,
  intervalS = progressInterval(),
  now: () => number = () => performance.now(),
): ProgressBar {
  let total = 0;
  let value = 0;
  let started: number | undefined;
  let last: number | undefined;
  let printed: string | undefined;
  const fields: Record<string, string | number> = { ...(opts.columns ?? {}) };
  const line = (): string => {
    const secs = started === undefined ? 0 : (now() - started) / 1000;
    const eta = value > 0 && total > value ? ` | ETA ${formatSeconds((secs / value) * (total - value))}` : '';
    const extra = Object.entries(fields)
      .map(([k, v]) => ` | ${k.replace(/_/g, ' ')} ${v}`)
      .join('');
    return `${opts.label} ${value}/${total || '?'} ${opts.unit}${extra} | ${formatSeconds(secs)}${eta}`;
  };
  const maybe = (): void => {
    if (started === undefined) return;
    const t = now();
    if ((t - (last ?? started)) / 1000 < intervalS) return;
    last = t;
    printed = line();
    write(printed);
  };
  return {
    start(t, v = 0) {
      total = t;
      value = v;
      started = now();
      last = undefined;
    },
    update(v, f) {
      value = v;
      if (f) Object.assign(fields, f);
      maybe();
    },
    increment(f) {
      value++;
      if (f) Object.assign(fields, f);
      maybe();
    },
    fields(f) {
      Object.assign(fields, f);
      maybe();
    },
    stop() {
      // The last state once, if any line was written (and it is not that line already).
      if (started !== undefined && printed !== undefined) {
        const final = line();
        if (final !== printed) write(final);
      }
      started = undefined;
      printed = undefined;
    },
  };
}

/** 75 -> "1m15s", 3700 -> "1h01m". */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  if (s < 60) return `${Math.round(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

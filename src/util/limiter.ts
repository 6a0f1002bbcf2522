/**
 * Concurrency per endpoint that adapts to rate limits (AIMD: halve on a 429, add one back after each run
 * of `recoverAfter` successes, never above the configured maximum), plus an optional requests-per-minute
 * and tokens-per-minute budget (a sliding one-minute window). Waiters are served first come, first served.
 */
export interface LimiterOptions {
  max: number;
  rpm?: number;
  tpm?: number;
  /** Successes needed to grow the limit by one after a back-off (default: the current limit). */
  recoverAfter?: number;
}

export class AdaptiveLimiter {
  private limit: number;
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private successes = 0;
  /** Start times and token counts of the last minute's requests, for the rpm/tpm budget. */
  private readonly window: { at: number; tokens: number }[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: LimiterOptions) {
    this.limit = opts.max;
  }

  get current(): number {
    return this.limit;
  }

  get max(): number {
    return this.opts.max;
  }

  /** Takes a slot if one is free now (and nobody is waiting for one); false otherwise. */
  tryAcquire(): boolean {
    if (this.waiting.length !== 0 || !this.canStart()) return false;
    this.start();
    return true;
  }

  /** Resolves when a slot is free and the budget allows one more request now. */
  acquire(): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.drain();
    });
  }

  release(tokens = 0): void {
    this.active--;
    if (tokens && this.opts.tpm) {
      const last = this.window[this.window.length - 1];
      if (last) last.tokens += tokens;
    }
    this.drain();
  }

  /** A 429 from the endpoint: halve the limit (at least 1). */
  rateLimited(): void {
    this.limit = Math.max(1, Math.floor(this.limit / 2));
    this.successes = 0;
  }

  succeeded(): void {
    if (this.limit >= this.opts.max) return;
    if (++this.successes >= (this.opts.recoverAfter ?? this.limit)) {
      this.limit++;
      this.successes = 0;
      this.drain();
    }
  }

  private canStart(): boolean {
    if (this.active >= this.limit) return false;
    if (!this.opts.rpm && !this.opts.tpm) return true;
    const now = Date.now();
    while (this.window.length && now - (this.window[0]?.at ?? now) >= 60_000) this.window.shift();
    if (this.opts.rpm && this.window.length >= this.opts.rpm) return false;
    if (this.opts.tpm && this.window.reduce((s, w) => s + w.tokens, 0) >= this.opts.tpm) return false;
    return true;
  }

  private start(): void {
    this.active++;
    if (this.opts.rpm || this.opts.tpm) this.window.push({ at: Date.now(), tokens: 0 });
  }

  private drain(): void {
    while (this.waiting.length && this.canStart()) {
      this.start();
      this.waiting.shift()?.();
    }
    // Blocked only by the budget: look again when the oldest request leaves the window.
    if (this.waiting.length && this.active < this.limit && this.window.length && !this.timer) {
      const wait = Math.max(1, 60_000 - (Date.now() - (this.window[0]?.at ?? 0)));
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.drain();
      }, wait);
      this.timer.unref();
    }
  }
}

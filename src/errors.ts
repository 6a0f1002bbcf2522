/**
 * Errors the user can act on. The CLI prints their message (never a stack trace) and exits with `exitCode`:
 * 2 for bad input (config, dataset, arguments), 1 for runtime failures (unreachable server, judge down).
 */
export interface SourceLocation {
  file?: string;
  /** 1-based line number. */
  line?: number;
  /** Field or config path, e.g. `targets[0].temperature`. */
  field?: string;
}

export class UserError extends Error {
  readonly exitCode: 1 | 2;
  readonly location: SourceLocation;

  constructor(message: string, opts: { exitCode?: 1 | 2; location?: SourceLocation; cause?: unknown } = {}) {
    super(formatLocated(message, opts.location ?? {}), { cause: opts.cause });
    this.name = 'UserError';
    this.exitCode = opts.exitCode ?? 2;
    this.location = opts.location ?? {};
  }
}

/** Bad input: a config, dataset or argument problem (exit code 2). */
export class InputError extends UserError {
  constructor(message: string, location: SourceLocation = {}, cause?: unknown) {
    super(message, { exitCode: 2, location, cause });
    this.name = 'InputError';
  }
}

/** A failure while running: network, server, missing optional dependency (exit code 1). */
export class RuntimeFailure extends UserError {
  constructor(message: string, cause?: unknown) {
    super(message, { exitCode: 1, cause });
    this.name = 'RuntimeFailure';
  }
}

/** `file:line: field: message`, leaving out the parts we do not know. */
export function formatLocated(message: string, loc: SourceLocation): string {
  const where = [loc.file, loc.line !== undefined ? String(loc.line) : undefined].filter(Boolean).join(':');
  const parts = [where, loc.field].filter((p): p is string => Boolean(p));
  return parts.length ? `${parts.join(': ')}: ${message}` : message;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Text from models, servers and users is hostile where a terminal shows it: an escape sequence in an
 * endpoint's error text or a run name can retitle the window, clear the screen, move the cursor or forge
 * output. Everything printed for a person goes through `terminalSafe`, which shows such characters as
 * `\xNN` / `\u{NNNN}` instead of sending them: C0 controls but newline and tab (ESC, BEL, CR, backspace...),
 * DEL, the C1 controls (CSI U+009B, OSC U+009D...) and the bidirectional overrides and isolates that make
 * text read in another order than it is.
 */

// eslint-disable-next-line no-control-regex -- finding control characters is the point
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/gu;

function visible(ch: string): string {
  const c = ch.codePointAt(0) as number;
  return c <= 0xff ? `\\x${c.toString(16).padStart(2, '0')}` : `\\u{${c.toString(16)}}`;
}

/** The text with every control character made visible (see the module comment); newlines and tabs kept. */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, visible);
}

/** Like `terminalSafe`, with newlines and tabs made visible too: for one-line fields (names, labels). */
export function terminalSafeLine(text: string): string {
  return terminalSafe(text).replace(/[\n\t]/g, visible);
}

/** Table cells (one-line fields) made safe, for cli-table3: its column widths then match what is shown. */
export function safeCells(rows: readonly (readonly string[])[]): string[][] {
  return rows.map((r) => r.map(terminalSafeLine));
}

/**
 * JSON text with the characters JSON.stringify leaves raw but a terminal acts on (C1 controls, DEL, bidi
 * overrides) written as `\uNNNN` escapes: the same JSON value, safe to print.
 */
export function terminalSafeJson(json: string): string {
  return json.replace(UNSAFE, (ch) => `\\u${(ch.codePointAt(0) as number).toString(16).padStart(4, '0')}`);
}

/** Writes text for a person on stdout, control characters made visible. */
export function printText(text: string): void {
  process.stdout.write(terminalSafe(text));
}

/**
 * Writes a document (CSV, Markdown, HTML) on stdout: as is into a pipe or file, where its bytes are data;
 * control characters made visible on a terminal, where they would act.
 */
export function printDocument(text: string): void {
  process.stdout.write(process.stdout.isTTY ? terminalSafe(text) : text);
}

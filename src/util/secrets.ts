/**
 * One redaction mechanism for the whole process: every API key, header value and URL credential is
 * registered here when its target is built, and every text that leaves the process's memory for the user or
 * the disk (the run store, error messages, reports) goes through `redact`. Secrets shorter than 4 characters
 * are not registered: replacing them would shred ordinary text and they protect nothing.
 *
 * Whole secrets are replaced wherever they occur. A text cut somewhere (by a server that shortened its error
 * message, a size cap, a log tail) can also end in the first part of a credential or begin with its last
 * part: such a piece, from 4 characters up, is replaced too. Pieces are looked for only for credentials
 * (keys, `headers_env` values, credential-named headers, URL credentials; each word of 8 characters or more
 * of them), never for plain header values such as a date or a MIME type, whose first characters are ordinary
 * words. Code that shortens a text itself uses `clip`, which redacts first and cuts after, so it never makes
 * such a piece.
 */

const MIN_LENGTH = 4;
/** The shortest piece of a credential, left at either end of a cut text, that is still replaced. */
const MIN_PIECE = 4;
/** Credential words shorter than this (`Bearer`, `Basic`) are not looked for in pieces. */
const MIN_PIECE_SOURCE = 8;
const secrets = new Set<string>();
let ordered: string[] = [];
/** Words of credentials whose cut pieces are redacted, longest first. */
let pieceSources: string[] = [];

export const REDACTED = '[redacted]';

export interface SecretOptions {
  /**
   * Whether it is a credential, whose pieces at the ends of a cut text are redacted too (default true).
   * False for a value that is secret only by caution (a literal header without a credential-like name).
   */
  credential?: boolean;
}

export function addSecret(value: string | undefined, opts: SecretOptions = {}): void {
  if (value === undefined || value.length < MIN_LENGTH) return;
  if (opts.credential !== false) {
    const words = value.split(/\s+/).filter((w) => w.length >= MIN_PIECE_SOURCE && !pieceSources.includes(w));
    if (words.length) pieceSources = [...pieceSources, ...words].sort((a, b) => b.length - a.length);
  }
  if (secrets.has(value)) return;
  secrets.add(value);
  // Longest first, so a secret that contains another is replaced whole.
  ordered = [...secrets].sort((a, b) => b.length - a.length);
}

/** Header names that say their value is a credential (Authorization, X-Api-Key, Cookie, *-Token...). */
export function isCredentialHeader(name: string): boolean {
  return /auth|key|token|secret|passw|cookie|session|signature|credential/i.test(name);
}

/** The text with every registered secret replaced by `[redacted]`. Free when no secret is registered. */
export function redact(text: string): string;
export function redact(text: string | null): string | null;
export function redact(text: string | null): string | null {
  if (text === null || ordered.length === 0) return text;
  let out = text;
  for (const s of ordered) if (out.includes(s)) out = out.split(s).join(REDACTED);
  return redactCutPieces(out);
}

/**
 * The text redacted, then cut to at most about `max` characters. A cut never splits a `[redacted]` marker
 * (the marker is kept whole), so no part of a secret survives the cut, at any offset.
 */
export function clip(text: string, max: number): string {
  const clean = redact(text);
  if (clean.length <= max) return clean;
  let end = max;
  for (let at = clean.indexOf(REDACTED); at !== -1 && at < max; at = clean.indexOf(REDACTED, at + 1)) {
    if (at + REDACTED.length > max) end = at + REDACTED.length;
  }
  return clean.slice(0, end);
}

/** Characters a cut text may carry after its last word (an ellipsis, closing quotes) or before its first. */
function isTrim(c: string): boolean {
  return /[\s.\u2026"'`()[\]{}<>,]/u.test(c);
}

/** Replaces a piece of a secret that a cut left at the end (its start) or the start (its end) of the text. */
function redactCutPieces(text: string): string {
  let out = text;
  for (const s of pieceSources) {
    // The end: the text's last characters (before any trailing punctuation) are a prefix of the secret.
    let end = out.length;
    while (end > 0 && isTrim(out.charAt(end - 1))) end--;
    const first = s.charCodeAt(0);
    for (let i = Math.max(0, end - (s.length - 1)); i <= end - MIN_PIECE; i++) {
      if (out.charCodeAt(i) === first && s.startsWith(out.slice(i, end))) {
        out = `${out.slice(0, i)}${REDACTED}${out.slice(end)}`;
        break;
      }
    }
    // The start: the text's first characters (after any leading punctuation) are a suffix of the secret.
    let start = 0;
    while (start < out.length && isTrim(out.charAt(start))) start++;
    const last = s.charCodeAt(s.length - 1);
    for (let j = Math.min(out.length, start + s.length - 1); j >= start + MIN_PIECE; j--) {
      if (out.charCodeAt(j - 1) === last && s.endsWith(out.slice(start, j))) {
        out = `${out.slice(0, start)}${REDACTED}${out.slice(j)}`;
        break;
      }
    }
  }
  return out;
}

/**
 * An error text as it may be stored or shown: registered secrets redacted, and the credentials of any URL
 * in it (a user name beside a password, say, which is not registered as a secret of its own).
 */
export function redactError(text: string | null): string | null {
  return text === null ? null : redactUrls(redact(text));
}

/** A JSON-like value with `f` applied to every string inside it (arrays and plain objects copied). */
function mapStrings<T>(value: T, f: (s: string) => string): T {
  if (typeof value === 'string') return f(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => mapStrings(v, f)) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = mapStrings(v, f);
    return out as T;
  }
  return value;
}

/** Every string inside a JSON-like value with registered secrets and URL credentials redacted (a report). */
export function redactOutput<T>(value: T): T {
  return mapStrings(value, (s) => redactUrls(redact(s)));
}

/** Every string inside a JSON-like value, redacted. */
export function redactDeep<T>(value: T): T {
  if (ordered.length === 0) return value;
  return mapStrings(value, redact);
}

export function hasSecrets(): boolean {
  return ordered.length > 0;
}

/** For tests: forget every registered secret. */
export function clearSecrets(): void {
  secrets.clear();
  ordered = [];
  pieceSources = [];
}

/**
 * A config as the run store keeps it: every literal header value replaced (they are credentials as often
 * as not, and a header's name says nothing about it), credentials in URLs replaced (see `redactUrls`), then
 * every registered secret redacted.
 */
export function redactConfig<T>(config: T): T {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        out[k] =
          k === 'headers' && x && typeof x === 'object' && !Array.isArray(x)
            ? Object.fromEntries(Object.keys(x).map((h) => [h, REDACTED]))
            : walk(x);
      }
      return out;
    }
    return typeof v === 'string' ? redactUrls(v) : v;
  };
  return redactDeep(walk(config) as T);
}

/**
 * Whether a stored config lost values to redaction (literal header values, credentials in URLs, any text
 * holding a secret): it cannot be resumed from the store, only from its config file.
 */
export function hasRedactedValues(config: unknown): boolean {
  if (typeof config === 'string') return config.includes(REDACTED);
  if (Array.isArray(config)) return config.some(hasRedactedValues);
  if (config && typeof config === 'object') return Object.values(config).some(hasRedactedValues);
  return false;
}

// ---- credentials in URLs: userinfo and credential-like query (or fragment) parameters ------------------

/** Query parameter names that carry credentials: api-key, access_token, client_secret, sig, X-Amz-Signature... */
const CREDENTIAL_NAME = /key|token|secret|passw|pwd|auth|sig|credential|session|jwt|bearer/i;
/** A URL with an authority inside a text. */
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]+/gi;

/** The `&`-separated pieces of a query string or fragment: name and value as written (percent-encoded). */
function pairs(part: string): { raw: string; name: string; value: string | undefined }[] {
  return part.split('&').map((raw) => {
    const eq = raw.indexOf('=');
    return eq < 0
      ? { raw, name: raw, value: undefined }
      : { raw, name: raw.slice(0, eq), value: raw.slice(eq + 1) };
  });
}

function decoded(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

function isCredentialName(name: string): boolean {
  return CREDENTIAL_NAME.test(decoded(name));
}

/** A URL's parts around its userinfo, query and fragment; undefined for a text that is not one. */
function splitUrl(url: string):
  | {
      scheme: string;
      userinfo: string | undefined;
      rest: string;
      query: string | undefined;
      fragment: string | undefined;
    }
  | undefined {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?$/is.exec(url);
  if (!m) return undefined;
  const authority = m[2] ?? '';
  const at = authority.lastIndexOf('@');
  return {
    scheme: m[1] ?? '',
    userinfo: at < 0 ? undefined : authority.slice(0, at),
    rest: `${at < 0 ? authority : authority.slice(at)}${m[3] ?? ''}`,
    query: m[4]?.slice(1),
    fragment: m[5]?.slice(1),
  };
}

/**
 * The credentials a URL carries, as written and decoded: its password (and its user name when there is no
 * password, the token-as-user form, or when it is long enough to be a key) and the values of its
 * credential-like query and fragment parameters. Register them with `addSecret`.
 */
export function urlSecrets(url: string): string[] {
  const u = splitUrl(url.trim());
  if (!u) return [];
  const out: string[] = [];
  if (u.userinfo !== undefined) {
    const colon = u.userinfo.indexOf(':');
    const user = colon < 0 ? u.userinfo : u.userinfo.slice(0, colon);
    const password = colon < 0 ? '' : u.userinfo.slice(colon + 1);
    if (password !== '') out.push(password, decoded(password));
    if (password === '' || user.length >= 12) out.push(user, decoded(user));
  }
  for (const part of [u.query, u.fragment]) {
    for (const p of pairs(part ?? ''))
      if (p.value !== undefined && p.value !== '' && isCredentialName(p.name))
        out.push(p.value, decoded(p.value));
  }
  return [...new Set(out)];
}

/** Registers a URL's credentials (see `urlSecrets`) so that `redact` replaces them everywhere. */
export function addUrlSecrets(url: string | undefined): void {
  if (url !== undefined) for (const s of urlSecrets(url)) addSecret(s);
}

/** The URL with its userinfo and credential-like parameter values replaced by `[redacted]`. */
export function redactUrl(url: string): string {
  const u = splitUrl(url);
  if (!u) return url;
  const params = (part: string | undefined, mark: string): string =>
    part === undefined
      ? ''
      : `${mark}${pairs(part)
          .map((p) => (p.value && isCredentialName(p.name) ? `${p.name}=${REDACTED}` : p.raw))
          .join('&')}`;
  return (
    `${u.scheme}${u.userinfo !== undefined ? `${REDACTED}` : ''}${u.rest}` +
    `${params(u.query, '?')}${params(u.fragment, '#')}`
  );
}

/** Every URL inside a text with its credentials redacted (see `redactUrl`). */
export function redactUrls(text: string): string {
  return text.includes('://') ? text.replace(URL_IN_TEXT, redactUrl) : text;
}

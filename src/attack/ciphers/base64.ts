import type { Cipher } from './cipher.js';

/**
 * Base64 of the UTF-8 bytes of the whole text (RFC 4648 alphabet, padded, no line breaks). Round-trips any
 * well-formed string; a lone surrogate becomes U+FFFD, as in any UTF-8 encoder. Decoding replaces each run of
 * base64 characters that is canonical base64 of valid UTF-8 and keeps everything else (plain words, a run that
 * decodes to invalid UTF-8, as most English words do) as it is.
 */

const RUN = /[A-Za-z0-9+/]+={0,2}/g;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeRun(run: string): string | undefined {
  const body = run.replace(/=+$/, '');
  if (body.length % 4 === 1) return undefined;
  const bytes = Buffer.from(body, 'base64');
  // Buffer skips bad characters silently; a canonical re-encoding proves the run was exact base64.
  if (bytes.toString('base64').replace(/=+$/, '') !== body) return undefined;
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

export function base64Cipher(): Cipher {
  const encode = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
  return {
    name: 'base64',
    title: 'Base64',
    describe:
      'In Base64 the UTF-8 bytes of the text are written with the 64 characters A-Z, a-z, 0-9, + and /: each ' +
      'group of three bytes becomes four characters, and "=" pads the end.\n' +
      `So "Hello world" is written "${encode('Hello world')}".`,
    encode,
    decode: (text) => text.replace(RUN, (run) => decodeRun(run) ?? run),
  };
}

import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { InputError } from '../errors.js';

/**
 * Positions in model tokens: which token of a response covers a given character. The tokenizer gives no
 * character offsets, so we find the shortest token prefix whose decoded text reaches past the character
 * (binary search over decode lengths). Byte-level and SentencePiece tokenizers decode their own encoding
 * back to the exact text, which makes this exact; the text is encoded on its own, without BOS.
 */

export interface TokenCounter {
  /** Where the tokenizer came from (a directory or a tokenizer.json). */
  readonly source: string;
  /** 1-based index of the token that contains character `charIndex` of `text`. */
  positionOf(text: string, charIndex: number): number;
  /** Number of tokens in `text` (no special tokens). */
  count(text: string): number;
}

/** Loads `tokenizer.json` (+ `tokenizer_config.json` beside it, if present) from a directory or file path. */
export function loadTokenCounter(dirOrFile: string): TokenCounter {
  const isDir = existsSync(dirOrFile) && statSync(dirOrFile).isDirectory();
  const jsonFile = isDir ? path.join(dirOrFile, 'tokenizer.json') : dirOrFile;
  const configFile = path.join(path.dirname(jsonFile), 'tokenizer_config.json');
  const tokenizerJson = readJson(jsonFile, '--tokenizer');
  const config = existsSync(configFile) ? readJson(configFile, '--tokenizer') : {};
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(tokenizerJson, config);
  } catch (err) {
    throw new InputError(`not a usable tokenizer.json: ${(err as Error).message}`, { file: jsonFile });
  }
  const encode = (text: string): number[] => tokenizer.encode(text, { add_special_tokens: false }).ids;
  const decodedLength = (ids: number[]): number =>
    tokenizer.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false }).length;
  return {
    source: dirOrFile,
    count: (text) => encode(text).length,
    positionOf(text, charIndex) {
      const ids = encode(text);
      // Smallest t with decode(ids[0..t)).length > charIndex: token t (1-based) covers the character.
      let lo = 1;
      let hi = ids.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (decodedLength(ids.slice(0, mid)) > charIndex) hi = mid;
        else lo = mid + 1;
      }
      return Math.max(1, lo);
    },
  };
}

function readJson(file: string, field: string): object {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(
      code === 'ENOENT'
        ? 'no tokenizer.json here (give a model directory or a tokenizer.json file)'
        : `cannot read: ${code}`,
      { file, field },
    );
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (value && typeof value === 'object') return value;
    throw new Error('not a JSON object');
  } catch (err) {
    throw new InputError(`invalid JSON: ${(err as Error).message}`, { file, field });
  }
}

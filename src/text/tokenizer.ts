import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { InputError } from '../errors.js';
import { readJinjaTemplate } from '../util/chat-template-file.js';

/**
 * A model's tokenizer, loaded from `tokenizer.json` (+ `tokenizer_config.json` next to it) with the same
 * pure-JS implementation HF uses in transformers.js, plus the facts the data builder needs: special tokens,
 * the chat template and the refusal token id.
 */
export interface DertaTokenizer {
  /** The tokenizer.json path (for stats and error messages). */
  file: string;
  /** Token ids; `addSpecialTokens` runs the tokenizer's post-processor (e.g. Mistral's `<s>`), like HF `tok(x)`. */
  encode(text: string, addSpecialTokens: boolean): number[];
  /** Text of ids, special tokens kept, no clean-up of spaces (so spans concatenate back to the source). */
  decode(ids: readonly number[]): string;
  tokenToId(piece: string): number | undefined;
  bosToken?: string;
  bosId?: number;
  eosToken?: string;
  eosId?: number;
  /** Contents of the added special tokens (`<|eot_id|>`, `<|im_end|>`, `</s>` …). */
  specialTokens: string[];
  /** The default chat template: `chat_template.jinja` beside the tokenizer, else tokenizer_config.json's. */
  chatTemplate?: string;
  /** Whether a server adds the BOS token to raw text (Llama-3 and Mistral yes; ChatML models like SmolLM2 no). */
  addsBos: boolean;
}

export function loadTokenizer(arg: string): DertaTokenizer {
  const file = isDirectory(arg) ? path.join(arg, 'tokenizer.json') : arg;
  if (!existsSync(file)) throw new InputError('tokenizer.json not found', { file });
  const configFile = path.join(path.dirname(file), 'tokenizer_config.json');
  const json = readJson(file);
  const config = existsSync(configFile) ? readJson(configFile) : {};
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(json, config);
  } catch (err) {
    throw new InputError(`cannot load tokenizer: ${(err as Error).message}`, { file });
  }
  const bosToken = tokenContent(config.bos_token);
  const eosToken = tokenContent(config.eos_token);
  const bosId = bosToken === undefined ? undefined : tok.token_to_id(bosToken);
  const specialTokens = [...tok.get_added_tokens_decoder().values()]
    .filter((t) => t.special)
    .map((t) => t.content);
  return {
    file,
    encode: (text, addSpecialTokens) => tok.encode(text, { add_special_tokens: addSpecialTokens }).ids,
    decode: (ids) =>
      ids.length === 0
        ? ''
        : tok.decode([...ids], { skip_special_tokens: false, clean_up_tokenization_spaces: false }),
    tokenToId: (piece) => tok.token_to_id(piece),
    bosToken,
    bosId,
    // tokenizer_config.json's add_bos_token when it says; else, with a BOS token at all, yes (Llama-3's older
    // tokenizer.json adds none itself, but llama.cpp's GGUF and vLLM add it).
    addsBos: bosId !== undefined && (typeof config.add_bos_token === 'boolean' ? config.add_bos_token : true),
    eosToken,
    eosId: eosToken === undefined ? undefined : tok.token_to_id(eosToken),
    specialTokens,
    chatTemplate: readJinjaTemplate(path.dirname(file)) ?? defaultChatTemplate(config.chat_template),
  };
}

/**
 * The refusal target for RTO rows: the vocabulary piece `Sorry` with no leading-space marker (19701 for
 * Llama-3, 23166 for Mistral). Looked up as a piece, not encoded: SentencePiece-style tokenizers encode
 * "Sorry" as `▁Sorry`. `override` may be a numeric id or another piece.
 */
export function refusalTokenId(tok: DertaTokenizer, override?: string | number): number {
  if (typeof override === 'number') return override;
  if (override !== undefined && /^\d+$/.test(override)) return Number(override);
  const piece = override ?? 'Sorry';
  const id = tok.tokenToId(piece);
  if (id !== undefined) return id;
  const ids = tok.encode(piece, false);
  if (ids.length === 1) return ids[0] as number;
  throw new InputError(
    `refusal token '${piece}' is not a single token of this tokenizer (encodes to ${ids.length} ids); ` +
      'pass --refusal-token <id>',
    { file: tok.file },
  );
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function readJson(file: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (err) {
    throw new InputError(`cannot read tokenizer file: ${(err as Error).message}`, { file });
  }
}

/** tokenizer_config.json writes special tokens either as strings or as `{content: …}` objects. */
function tokenContent(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') {
    return (v as { content: string }).content;
  }
  return undefined;
}

/** `chat_template` is a string or a list of `{name, template}` (then the one named `default`). */
function defaultChatTemplate(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    const named = v as { name?: unknown; template?: unknown }[];
    const t = named.find((x) => x.name === 'default') ?? named[0];
    return typeof t?.template === 'string' ? t.template : undefined;
  }
  return undefined;
}

/**
 * A rendered chat template as a completions server should get it: without the template's leading BOS when the
 * server adds one itself (a tokenizer that adds BOS to raw text: vLLM and llama.cpp then add it too, and a
 * second one shifts the model); unchanged for models whose template writes its first token and whose
 * tokenizer adds none (SmolLM2's `<|im_start|>` is its BOS token and must stay).
 */
export function forCompletions(tok: DertaTokenizer, rendered: string, keepBos?: boolean): string {
  const strip = keepBos === undefined ? tok.addsBos : !keepBos;
  return strip && tok.bosToken && rendered.startsWith(tok.bosToken)
    ? rendered.slice(tok.bosToken.length)
    : rendered;
}

import { InputError } from '../../errors.js';
import type { DertaTokenizer } from '../../text/tokenizer.js';
import { defineKind, safeRow } from './kind.js';

/** Llama-3's first reserved special token: free in the vocabulary, so it can become the reset token as is. */
export const DEFAULT_RESET_TOKEN = '<|reserved_special_token_0|>';

/**
 * Backtracking SFT (Zhang et al., ICLR 2025): harmful question + harmful prefix (context, not trained) → the
 * reset token, then the safe response. The prefix is the harmful-prefix row's, so the two differ only in what
 * follows it; a served model answers with the text after its last reset token.
 */
export const backtrackKind = defineKind({
  name: 'backtrack',
  sizeHelp: 'backtrack rows: harmful prefix, reset token, safe response (default 3000 backtrack)',
  writeOrder: 4,
  // Half the triples teach the safe answer directly, half "harmful start → reset → safe answer", in the same
  // 6,000-row safety budget.
  variants: { backtrack: { vanilla: 3000, backtrack: 3000 } },
  open: ({ wanted, tokenizer, options }) => {
    if (!wanted) return undefined;
    const reset = resetTokenText(tokenizer, options.resetToken);
    return { header: { reset_token: reset }, fromTriple: (t, prefix) => prefix && safeRow(t, prefix, reset) };
  },
  // The reset token follows the harmful words directly: no space is trained before it.
  format: { harmfulPrefix: true, joined: true },
  serve: (options) => ({ resetToken: options.resetToken ?? DEFAULT_RESET_TOKEN }),
});

/**
 * The reset token of backtrack rows (Zhang et al. use a dedicated `[RESET]`): an added token of the tokenizer,
 * so it is one id wherever it appears and never spelled by ordinary text.
 */
function resetTokenText(tok: DertaTokenizer | undefined, requested: string | undefined): string {
  const text = requested ?? DEFAULT_RESET_TOKEN;
  if (!tok) {
    if (requested === undefined)
      throw new InputError('--variant backtrack needs --reset-token or --tokenizer');
    return text;
  }
  const id = tok.tokenToId(text);
  const ids = tok.encode(text, false);
  if (id === undefined || ids.length !== 1 || ids[0] !== id || !tok.specialTokens.includes(text)) {
    throw new InputError(
      requested === undefined
        ? `this tokenizer has no ${DEFAULT_RESET_TOKEN}; pass --reset-token <one of its added special tokens> for backtrack rows`
        : `--reset-token '${text}' is not one added special token of this tokenizer`,
      { file: tok.file },
    );
  }
  return text;
}

import { InputError } from '../errors.js';
import { chatFramer, type ChatFormatOptions } from '../text/chat-template.js';
import type { DertaTokenizer } from '../text/tokenizer.js';
import { rowKind } from './kinds/index.js';
import type { TextExample } from './types.js';

/**
 * Turns a text example into the two strings upstream tokenises: `prefix` (prompt, plus the harmful prefix
 * of the kinds that show one; never trained) and `text` (the trained response, ending in the end-of-sequence
 * marker). What a kind shows is its `format` (kinds/).
 */
export interface PromptFormat {
  /** `paper` or `chat` (a Jinja chat template). */
  name: 'paper' | 'chat';
  /** Whether tokenising runs the tokenizer's post-processor (BOS); chat templates write BOS themselves. */
  addSpecialTokens: boolean;
  render(ex: TextExample): { prefix: string; text: string };
}

/**
 * Upstream's literal format, byte for byte: `[INST] {q} [\INST]` (a literal backslash), the response with a
 * leading space, the end-of-sequence token written as text. Harmful-prefix rows always get the space after
 * `[\INST]`, so an empty prefix leaves a double space before the response, as upstream. A kind whose response is
 * `joined` (backtrack's reset token) gets no space before it.
 */
export function paperFormat(eosText: string): PromptFormat {
  return {
    name: 'paper',
    addSpecialTokens: true,
    render(ex) {
      if (ex.context) {
        throw new InputError(
          'a multi-turn triple (messages) needs a chat template: use --template chat (the paper format has one turn)',
        );
      }
      const head = `[INST] ${ex.question} [\\INST]`;
      const layout = rowKind(ex.kind).format;
      const prefix = layout.harmfulPrefix ? `${head} ${ex.harmfulPrefix}` : head;
      const space = layout.joined ? '' : ' ';
      return { prefix, text: `${space}${ex.response}${eosText}` };
    },
  };
}

/**
 * The end-of-sequence text for the paper format: `<|end_of_text|>` when the tokenizer knows it (Llama-3, as
 * upstream), else the tokenizer's own EOS token (`</s>` for Mistral), so the row still ends in a real EOS id.
 */
export function paperEosText(tok: DertaTokenizer | undefined): string {
  if (!tok || tok.tokenToId('<|end_of_text|>') !== undefined || !tok.eosToken) return '<|end_of_text|>';
  return tok.eosToken;
}

/**
 * A real chat template rendered with @huggingface/jinja. The conversation is [system?, user: q,
 * assistant: content]; the harmful prefix opens the assistant content, so the model sees it as its own
 * words. The template is rendered with a sentinel as the assistant content and split there: everything
 * before is the prompt head, the tail is kept up to and including its first special token (the end-of-turn
 * marker, e.g. `<|eot_id|>`, `<|im_end|>`, `</s>`), because some templates append a fresh generation prompt
 * or a newline after it that must not be trained. If the tail has no special token, the EOS token is used.
 */
export function chatFormat(tok: DertaTokenizer, opts: ChatFormatOptions = {}): PromptFormat {
  const frame = chatFramer(tok, opts);
  return {
    name: 'chat',
    addSpecialTokens: false,
    render(ex) {
      const { head, tail } = frame(ex.question, ex.context);
      const sep = ex.harmfulPrefix && !rowKind(ex.kind).format.joined ? ' ' : '';
      return { prefix: head + ex.harmfulPrefix, text: sep + ex.response + tail };
    },
  };
}

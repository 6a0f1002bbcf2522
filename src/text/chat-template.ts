import { readFileSync } from 'node:fs';
import { Template } from '@huggingface/jinja';
import { InputError } from '../errors.js';
import type { DertaTokenizer } from './tokenizer.js';
import type { ContextMessage, TextExample } from './types.js';

/**
 * Turns a text example into the two strings upstream tokenises: `prefix` (prompt, plus the harmful prefix
 * for mle_prefix rows; never trained) and `text` (the trained response, ending in the end-of-sequence marker).
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
 * `[\INST]`, so an empty prefix leaves a double space before the response, as upstream.
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
      const withPrefix = ex.kind === 'mle_prefix' || ex.kind === 'backtrack';
      const prefix = withPrefix ? `${head} ${ex.harmfulPrefix}` : head;
      // The reset token follows the harmful words directly: no space is trained before it.
      const space = ex.kind === 'backtrack' ? '' : ' ';
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

export interface ChatFormatOptions {
  /** Jinja source; defaults to the tokenizer's own chat_template. */
  template?: string;
  /** Optional system message before the user turn. */
  system?: string;
}

/** Marks where the assistant content goes; never appears in real text. */
const SENTINEL = '\u0000\u0001ASSISTANT_CONTENT\u0001\u0000';

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
      const sep = ex.harmfulPrefix && ex.kind !== 'backtrack' ? ' ' : '';
      return { prefix: head + ex.harmfulPrefix, text: sep + ex.response + tail };
    },
  };
}

/** A conversation rendered around its assistant turn: `head` up to the assistant's first word, `tail` its end-of-turn. */
export interface ChatFrame {
  head: string;
  tail: string;
}

/**
 * The chat template rendered for [system?, user: question, assistant: …] and split at the assistant content
 * (see chatFormat). `head` is also exactly what a model sees before its own first token, which the prefill
 * attack sends to a completions endpoint with harmful words after it.
 */
export function chatFramer(
  tok: DertaTokenizer,
  opts: ChatFormatOptions = {},
): (question: string, context?: readonly ContextMessage[]) => ChatFrame {
  const source = opts.template ?? tok.chatTemplate;
  if (!source) {
    throw new InputError(
      'no chat template (neither chat_template.jinja nor the chat_template of tokenizer_config.json); pass --chat-template <file.jinja> or use --template paper',
      { file: tok.file },
    );
  }
  let template: Template;
  try {
    template = new Template(source);
  } catch (err) {
    throw new InputError(`cannot parse chat template: ${(err as Error).message}`, { file: tok.file });
  }
  const specials = tok.specialTokens.filter((s) => s.length > 0);
  const cache = new Map<string, ChatFrame>();

  return (question: string, context?: readonly ContextMessage[]): ChatFrame => {
    // A multi-turn context is the conversation before the trained turn (its own system turn, if any, wins).
    const key = context ? JSON.stringify(context) : question;
    const hit = cache.get(key);
    if (hit) return hit;
    const turns = context ?? [{ role: 'user', content: question }];
    const messages = [
      ...(opts.system !== undefined && turns[0]?.role !== 'system'
        ? [{ role: 'system', content: opts.system }]
        : []),
      ...turns,
      { role: 'assistant', content: SENTINEL },
    ];
    let rendered: string;
    try {
      rendered = template.render({
        messages,
        bos_token: tok.bosToken ?? '',
        eos_token: tok.eosToken ?? '',
        add_generation_prompt: false,
      });
    } catch (err) {
      throw new InputError(`chat template failed to render: ${(err as Error).message}`, { file: tok.file });
    }
    const at = rendered.indexOf(SENTINEL);
    if (at < 0 || rendered.indexOf(SENTINEL, at + 1) >= 0) {
      throw new InputError('chat template does not place the assistant content exactly once', {
        file: tok.file,
      });
    }
    const head = rendered.slice(0, at);
    const tail = endOfTurn(rendered.slice(at + SENTINEL.length), specials, tok.eosToken);
    const framed = { head, tail };
    if (cache.size > 10_000) cache.clear();
    cache.set(key, framed);
    return framed;
  };
}

function endOfTurn(rawTail: string, specials: string[], eos: string | undefined): string {
  let start = -1;
  let end = -1;
  for (const s of specials) {
    const i = rawTail.indexOf(s);
    if (i >= 0 && (start < 0 || i < start || (i === start && i + s.length > end))) {
      start = i;
      end = i + s.length;
    }
  }
  if (end >= 0) return rawTail.slice(0, end);
  return rawTail.trimEnd() + (eos ?? '');
}

export function readTemplateFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read chat template: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      file,
    });
  }
}

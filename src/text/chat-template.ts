import { readFileSync } from 'node:fs';
import { Template } from '@huggingface/jinja';
import { InputError } from '../errors.js';
import type { ChatMessage } from '../types.js';
import type { DertaTokenizer } from './tokenizer.js';

export interface ChatFormatOptions {
  /** Jinja source; defaults to the tokenizer's own chat_template. */
  template?: string;
  /** Optional system message before the user turn. */
  system?: string;
}

/** Marks where the assistant content goes; never appears in real text. */
const SENTINEL = '\u0000\u0001ASSISTANT_CONTENT\u0001\u0000';

/** A conversation rendered around its assistant turn: `head` up to the assistant's first word, `tail` its end-of-turn. */
export interface ChatFrame {
  head: string;
  tail: string;
}

/**
 * A real chat template, rendered with @huggingface/jinja for [system?, user: question, assistant: …] (or a
 * multi-turn context) with a sentinel as the assistant content and split there: everything before is `head`,
 * the tail is kept up to and including its first special token (the end-of-turn marker, e.g. `<|eot_id|>`,
 * `<|im_end|>`, `</s>`), because some templates append a fresh generation prompt or a newline after it. If the
 * tail has no special token, the EOS token is used. `head` is exactly what a model sees before its own first
 * token: the prefill attack sends it to a completions endpoint with harmful words after it, and DeRTa's chat
 * format (derta/format.ts) trains rows framed this way.
 */
export function chatFramer(
  tok: DertaTokenizer,
  opts: ChatFormatOptions = {},
): (question: string, context?: readonly ChatMessage[]) => ChatFrame {
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

  return (question: string, context?: readonly ChatMessage[]): ChatFrame => {
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

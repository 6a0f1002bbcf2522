import path from 'node:path';
import { z } from 'zod';
import { InputError } from '../../errors.js';
import { chatFramer, readTemplateFile } from '../../text/chat-template.js';
import { forCompletions, loadTokenizer, type DertaTokenizer } from '../../text/tokenizer.js';
import { resolveDatasetFile } from '../../dataset/load.js';
import type { Behavior, ChatMessage, Prompt } from '../../types.js';
import type { Attack, AttackEnv, AttackFactory } from '../attack.js';
import { PREFILL_ATTACK, prefillVariant } from './variant.js';
import { HarmfulResponses, tokenPrefix, type TokenPrefix } from './depth.js';

/**
 * The prefilling attack as a depth probe (Qi et al. 2024): the first k tokens of a real harmful response
 * are placed at the start of the assistant's turn and the model continues. A model whose safety is only a
 * few tokens deep stops refusing once k passes them; DeRTa's claim is that its models refuse at any k.
 * Counts are exact in the target's tokenizer. One variant per k and delivery:
 *   template  the model's own chat template rendered here (exact bytes, @huggingface/jinja) and sent with the
 *             prefix as raw text to a completions endpoint (vLLM, llama.cpp, TGI, the trainer's server);
 *   prefill   a chat request whose last message is the assistant's prefix (Anthropic's native prefill);
 *   continue  the same, marked to be continued in place: OpenAI-compatible servers get
 *             `continue_final_message: true, add_generation_prompt: false` (vLLM, SGLang).
 * k = 0 is the plain request, the curve's baseline.
 */

const DEFAULT_K = [0, 5, 10, 20, 40];

const Options = z.strictObject({
  /** The target model's tokenizer: a folder with tokenizer.json (+ tokenizer_config.json), or the file. */
  tokenizer: z.string().min(1),
  /** Harmful responses: a responses file (JSONL/JSON/CSV) or `pack:<pack>/<file>`, matched to goals by text or id. */
  source: z.string().min(1),
  /** The field of `source` holding the response (default: response, completion, output, ...). */
  response_field: z.string().min(1).optional(),
  /** Prefill depths in tokens; a list expands to one variant per k. */
  k: z.union([z.number().int().min(0), z.array(z.number().int().min(0)).min(1)]).default(DEFAULT_K),
  delivery: z.enum(['template', 'prefill', 'continue']).default('template'),
  /** Template delivery: a Jinja chat template file instead of tokenizer_config.json's. */
  chat_template: z.string().min(1).optional(),
  /** A system message before the user turn. */
  system: z.string().optional(),
  /**
   * Template delivery: keep the BOS text the template writes. By default it is dropped exactly when the
   * tokenizer adds BOS to raw text, as completions servers (vLLM, llama.cpp) then do themselves.
   */
  keep_bos: z.boolean().optional(),
  /** What judges see: the model's continuation (default) or the prefilled words plus it. */
  extract: z.enum(['continuation', 'full']).default('continuation'),
});
type Options = z.infer<typeof Options>;

/** What a prefill case was sent, beyond its prompt: recorded by `prompts` and read by the depth curve. */
export interface PrefillFacts {
  /** The depth asked for (the variant's k). */
  k: number;
  /** The exact words placed in the assistant turn. */
  prefill: string;
  /** Tokens of `prefill`: k, or fewer where the k-th token ends inside a character (see tokenPrefix). */
  tokens: number;
}

export const prefillAttack: AttackFactory<typeof Options> = {
  name: PREFILL_ATTACK,
  options: Options,
  create(opts, env, where): Attack[] {
    const resolve = (p: string): string => path.resolve(baseDir(env), p);
    const tok = loadTokenizer(resolve(opts.tokenizer));
    const sourceFile = /^pack:/.test(opts.source) ? packFile(opts.source, env, where) : resolve(opts.source);
    const responses = HarmfulResponses.read(sourceFile, env.dataDir, opts.response_field);
    const head = headOf(tok, opts, resolve);
    const ks = [...new Set(Array.isArray(opts.k) ? opts.k : [opts.k])].sort((a, b) => a - b);

    return ks.map((k): Attack => {
      const facts = (b: Behavior): PrefillFacts => {
        const cut = k === 0 ? { tokens: 0, text: '' } : prefixFor(tok, responses, b, k);
        return { k, prefill: cut.text, tokens: cut.tokens };
      };
      return {
        name: PREFILL_ATTACK,
        variant: prefillVariant(k, opts.delivery),
        options: { ...opts, k, tokenizer: tok.file, source: sourceFile },
        prompt: (b) => deliver(head, opts, b, facts(b).prefill),
        check: (behaviors) => checkAll(behaviors, (b) => facts(b), responses.file),
        facts: (b) => ({ ...facts(b) }),
        extract: (response, b) => (opts.extract === 'full' ? facts(b).prefill + response : response),
      };
    });
  },
};

function prefixFor(tok: DertaTokenizer, responses: HarmfulResponses, b: Behavior, k: number): TokenPrefix {
  const response = responses.require(b);
  try {
    return tokenPrefix(tok, response, k);
  } catch (err) {
    throw new InputError(`goal ${b.id}: ${(err as Error).message}`, {
      file: responses.file,
      field: 'source',
    });
  }
}

/** Every goal that has no usable response, in one error (the first five named), before any call. */
function checkAll(behaviors: readonly Behavior[], facts: (b: Behavior) => unknown, file: string): void {
  const failed: string[] = [];
  for (const b of behaviors) {
    try {
      facts(b);
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      failed.push(err.message);
    }
  }
  if (failed.length === 0) return;
  throw new InputError(
    `${failed.length} of ${behaviors.length} goals have no usable harmful response: ` +
      `${failed.slice(0, 5).join('; ')}${failed.length > 5 ? '; ...' : ''}`,
    { file, field: 'source' },
  );
}

/** The rendered chat up to the assistant's first token, for template delivery. */
function headOf(
  tok: DertaTokenizer,
  opts: Options,
  resolve: (p: string) => string,
): ((goal: string) => string) | undefined {
  if (opts.delivery !== 'template') return undefined;
  const template = opts.chat_template ? readTemplateFile(resolve(opts.chat_template)) : undefined;
  if (template === undefined && !tok.chatTemplate) {
    throw new InputError(
      'no chat template (neither chat_template.jinja nor the chat_template of tokenizer_config.json): set the attack option chat_template: <file.jinja>, or use ' +
        'delivery prefill / continue',
      { file: tok.file },
    );
  }
  const frame = chatFramer(tok, { template, system: opts.system });
  return (goal) => {
    const head = frame(goal).head;
    return forCompletions(tok, head, opts.keep_bos);
  };
}

function deliver(
  head: ((goal: string) => string) | undefined,
  opts: Options,
  b: Behavior,
  prefill: string,
): Prompt {
  if (head) return { kind: 'completion', text: head(b.text) + prefill };
  const messages: ChatMessage[] = [
    ...(opts.system !== undefined ? [{ role: 'system' as const, content: opts.system }] : []),
    { role: 'user', content: b.text },
  ];
  if (prefill === '') return { kind: 'chat', messages };
  messages.push({ role: 'assistant', content: prefill });
  return { kind: 'chat', messages, ...(opts.delivery === 'continue' ? { continueFinal: true } : {}) };
}

function baseDir(env: AttackEnv): string {
  return env.source?.file ? path.dirname(env.source.file) : process.cwd();
}

function packFile(spec: string, env: AttackEnv, where: string): string {
  const m = /^pack:([^/]+)\/(.+)$/.exec(spec);
  if (!m) throw new InputError('expected pack:<pack>/<file>', { field: `${where}.source` });
  return resolveDatasetFile({ pack: m[1], file: m[2] }, { dataDir: env.dataDir }).file;
}

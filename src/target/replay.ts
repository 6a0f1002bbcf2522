import path from 'node:path';
import { z } from 'zod';
import { InputError } from '../errors.js';
import { readRecords } from '../dataset/records.js';
import { FIELD_ALIASES } from '../dataset/fields.js';
import type { Generation, Prompt } from '../types.js';
import { sha256 } from '../util/hash.js';
import type { ProviderFactory } from './provider.js';
import { TargetError, type EndpointInfo, type Target } from './target.js';

const PROMPT_FIELDS = FIELD_ALIASES.prompt;
const RESPONSE_FIELDS = FIELD_ALIASES.response;

const ReplayOptions = z.strictObject({});

/**
 * `replay:<file>`: answers from a file of recorded responses (JSON/JSONL/CSV with a prompt and a response
 * field, or `messages` + `response`), matched on the exact prompt text: the last user message, or the raw
 * text of a completion prompt. Lets a run re-judge or re-report recorded outputs through the same pipeline.
 */
export class ReplayTarget implements Target {
  readonly concurrency = 64;
  readonly endpoint: EndpointInfo;
  private readonly answers = new Map<string, string>();

  constructor(
    readonly id: string,
    file: string,
    baseDir: string,
    path_ = 'targets',
  ) {
    const abs = path.resolve(baseDir, file);
    const records = readRecords(abs);
    for (const rec of records) {
      const v = rec.value as Record<string, unknown>;
      if (!v || typeof v !== 'object')
        throw new InputError('expected an object', { file: abs, line: rec.line });
      const prompt = promptOf(v);
      const response = RESPONSE_FIELDS.map((f) => v[f]).find((x) => typeof x === 'string');
      if (prompt === undefined) {
        throw new InputError(`no prompt field (${PROMPT_FIELDS.join(', ')} or messages)`, {
          file: abs,
          line: rec.line,
        });
      }
      if (typeof response !== 'string') {
        throw new InputError(`no response field (${RESPONSE_FIELDS.join(', ')})`, {
          file: abs,
          line: rec.line,
        });
      }
      this.answers.set(prompt, response);
    }
    if (this.answers.size === 0)
      throw new InputError('replay file has no records', { file: abs, field: `${path_}.id` });
    // Recorded answers are looked up by content already: never cached.
    this.endpoint = { provider: 'replay', baseUrl: null, model: abs, params: {}, cacheable: false };
  }

  async generate(prompt: Prompt): Promise<Generation> {
    const key = prompt.kind === 'completion' ? prompt.text : lastUser(prompt);
    const text = this.answers.get(key);
    if (text === undefined) {
      throw new TargetError(
        `no recorded response for this prompt (sha256 ${sha256(key).slice(0, 12)})`,
        'content',
      );
    }
    return { text, latencyMs: 0, attempts: 1, cached: false, finishReason: 'replay' };
  }
}

function promptOf(v: Record<string, unknown>): string | undefined {
  if (Array.isArray(v['messages'])) {
    const users = (v['messages'] as { role?: string; content?: unknown }[]).filter((m) => m.role === 'user');
    const last = users[users.length - 1]?.content;
    if (typeof last === 'string') return last;
  }
  return PROMPT_FIELDS.map((f) => v[f]).find((x): x is string => typeof x === 'string');
}

function lastUser(prompt: Prompt & { kind: 'chat' }): string {
  const users = prompt.messages.filter((m) => m.role === 'user');
  return users[users.length - 1]?.content ?? '';
}

export const replayProvider: ProviderFactory<typeof ReplayOptions> = {
  name: 'replay',
  description: 'recorded responses from a file (replay:<file>)',
  options: ReplayOptions,
  create: (_options, env, path) =>
    new ReplayTarget(env.spec.label ?? env.spec.id, env.model, env.baseDir, path),
};

import path from 'node:path';
import { z } from 'zod';
import { RuntimeFailure } from '../errors.js';
import type { ChatMessage, Generation, Prompt } from '../types.js';
import type { TargetSpec } from '../config/schema.js';
import type { ProviderFactory } from './provider.js';
import type { EndpointInfo, GenerateOptions, SamplingParams, Target } from './target.js';

/**
 * `llamacpp:<model.gguf>`: a local GGUF model through node-llama-cpp, an optional dependency (it downloads
 * native binaries, so it is not installed by default). The model's own chat template is applied by
 * node-llama-cpp for chat prompts; completion prompts are continued as raw text.
 */

// The small part of node-llama-cpp's API used here, typed locally so the package stays optional.
interface LlamaSequence {
  dispose(): void;
}
interface LlamaContext {
  getSequence(): LlamaSequence;
}
interface LlamaModel {
  createContext(opts: { sequences: number; contextSize?: number }): Promise<LlamaContext>;
}
interface ChatHistoryItem {
  type: 'system' | 'user' | 'model';
  text?: string;
  response?: string[];
}
interface LlamaChatSessionLike {
  setChatHistory(history: ChatHistoryItem[]): void;
  prompt(text: string, opts: Record<string, unknown>): Promise<string>;
}
interface LlamaCompletionLike {
  generateCompletion(text: string, opts: Record<string, unknown>): Promise<string>;
}
export interface NodeLlamaCpp {
  getLlama(): Promise<{
    loadModel(opts: { modelPath: string; gpuLayers?: number | 'auto' }): Promise<LlamaModel>;
  }>;
  LlamaChatSession: new (opts: { contextSequence: LlamaSequence }) => LlamaChatSessionLike;
  LlamaCompletion: new (opts: { contextSequence: LlamaSequence }) => LlamaCompletionLike;
}

export async function importNodeLlamaCpp(): Promise<NodeLlamaCpp> {
  const name = 'node-llama-cpp';
  try {
    return (await import(name)) as NodeLlamaCpp;
  } catch {
    throw new RuntimeFailure(
      'local GGUF targets need the optional package node-llama-cpp; install it next to refusenik with\n' +
        '  npm install node-llama-cpp@3\n' +
        'or serve the model with llama.cpp/Ollama/vLLM and use an openai:<model> target with base_url.',
    );
  }
}

export const LlamaCppOptions = z.strictObject({
  /** Layers to offload to the GPU (node-llama-cpp's gpuLayers; default: as many as fit). */
  gpu_layers: z.number().int().min(0).optional(),
  /** Context window in tokens (default: node-llama-cpp's choice for the model and memory). */
  context_size: z.number().int().positive().optional(),
});
export type LlamaCppOptions = z.output<typeof LlamaCppOptions>;

export class LlamaCppTarget implements Target {
  readonly concurrency: number;
  readonly endpoint: EndpointInfo;
  private loaded: Promise<{ lib: NodeLlamaCpp; context: LlamaContext }> | undefined;
  private readonly params: SamplingParams;

  constructor(
    readonly id: string,
    private readonly modelPath: string,
    private readonly spec: TargetSpec,
    /** Validated by the provider's schema. */
    readonly options: LlamaCppOptions = {},
    /** The engine module (tests pass a stand-in). */
    private readonly engine: () => Promise<NodeLlamaCpp> = importNodeLlamaCpp,
  ) {
    this.concurrency = spec.concurrency ?? 1;
    this.params = {
      temperature: spec.temperature,
      maxTokens: spec.max_tokens,
      topP: spec.top_p,
      stop: spec.stop,
      seed: spec.seed,
    };
    this.endpoint = {
      provider: 'llamacpp',
      baseUrl: null,
      model: path.resolve(modelPath),
      params: { ...this.params, system: spec.system_prompt ?? null },
      cacheable: true,
    };
  }

  async generate(prompt: Prompt, opts: GenerateOptions = {}): Promise<Generation> {
    const { lib, context } = await this.load();
    const p = { ...this.params, ...opts.params };
    const genOpts = {
      temperature: p.temperature ?? 0,
      maxTokens: p.maxTokens ?? 512,
      topP: p.topP,
      seed: p.seed,
      signal: opts.signal,
      stopOnAbortSignal: false,
      customStopTriggers: p.stop,
    };
    const sequence = context.getSequence();
    const started = performance.now();
    try {
      let text: string;
      if (prompt.kind === 'completion') {
        text = await new lib.LlamaCompletion({ contextSequence: sequence }).generateCompletion(
          prompt.text,
          genOpts,
        );
      } else {
        const session = new lib.LlamaChatSession({ contextSequence: sequence });
        const { history, last } = toHistory(prompt.messages, this.spec.system_prompt);
        session.setChatHistory(history);
        text = await session.prompt(last, genOpts);
      }
      return { text, latencyMs: performance.now() - started, attempts: 1, cached: false };
    } finally {
      sequence.dispose();
    }
  }

  private load(): Promise<{ lib: NodeLlamaCpp; context: LlamaContext }> {
    this.loaded ??= (async () => {
      const lib = await this.engine();
      const llama = await lib.getLlama();
      const { gpu_layers: gpuLayers, context_size: contextSize } = this.options;
      const model = await llama.loadModel({
        modelPath: path.resolve(this.modelPath),
        ...(gpuLayers !== undefined ? { gpuLayers } : {}),
      });
      const context = await model.createContext({
        sequences: this.concurrency,
        ...(contextSize !== undefined ? { contextSize } : {}),
      });
      return { lib, context };
    })();
    return this.loaded;
  }
}

/** node-llama-cpp's chat history format, with the final user turn separated out as the prompt. */
function toHistory(
  messages: ChatMessage[],
  system: string | undefined,
): { history: ChatHistoryItem[]; last: string } {
  const history: ChatHistoryItem[] = [];
  if (system !== undefined && messages[0]?.role !== 'system') history.push({ type: 'system', text: system });
  const lastUser = messages.map((m) => m.role).lastIndexOf('user');
  messages.forEach((m, i) => {
    if (i === lastUser) return;
    if (m.role === 'assistant') history.push({ type: 'model', response: [m.content] });
    else history.push({ type: m.role, text: m.content });
  });
  return { history, last: lastUser >= 0 ? (messages[lastUser] as ChatMessage).content : '' };
}

export const llamacppProvider: ProviderFactory<typeof LlamaCppOptions> = {
  name: 'llamacpp',
  description: 'local GGUF model through the optional node-llama-cpp package (llamacpp:<model.gguf>)',
  options: LlamaCppOptions,
  create: (options, env) => new LlamaCppTarget(env.spec.label ?? env.spec.id, env.model, env.spec, options),
};

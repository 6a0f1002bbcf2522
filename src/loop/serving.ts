import type { TargetSpec } from '../config/schema.js';
import type { LoopConfig } from './config.js';
import { serveLlamaCpp, serveModel, type EngineName, type LlamaCppSetup } from './engines.js';
import type { ServedModel } from './serve.js';

/**
 * The models a loop serves on loopback ports for one invocation: the base model once (or the configured
 * endpoint), each trained variant when a stage first needs it, stopped when its arm is done and all at the end.
 */
export interface ServingSetup {
  config: LoopConfig;
  engine: EngineName;
  llama: LlamaCppSetup;
  python: string;
  baseModel: string;
  baseGguf: string | undefined;
  log: (line: string) => void;
}

/** How to serve a trained model: its HF folder (a LoRA adapter of the base, or merged), its GGUF adapter. */
export interface TrainedModel {
  hf: string;
  adapterOf?: string;
  lora?: string;
  resetToken?: string;
}

export class Serving {
  private readonly servers: ServedModel[] = [];
  private baseServed: Promise<TargetSpec> | undefined;

  constructor(private readonly s: ServingSetup) {}

  /** The base model's target, served on first use. */
  base(): Promise<TargetSpec> {
    const c = this.s.config;
    return (this.baseServed ??= c.base.served
      ? Promise.resolve(targetSpec(c.base.served, 'base', c))
      : this.serve('base', { hf: this.s.baseModel }));
  }

  /** A trained model's target, served on first call of the returned function. */
  trained(how: TrainedModel): { target: () => Promise<TargetSpec>; stop: () => Promise<void> } {
    const c = this.s.config;
    let served: Promise<TargetSpec> | undefined;
    return {
      target: () =>
        (served ??= c.serve.target
          ? Promise.resolve(targetSpec(c.serve.target, 'trained', c))
          : this.serve('trained', how)),
      stop: async () => {
        if (!served || c.serve.target) return;
        const spec = await served;
        const i = this.servers.findIndex((s) => spec.base_url === s.url);
        if (i >= 0) {
          const [s] = this.servers.splice(i, 1);
          await s?.close();
        }
      },
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.splice(0).map((s) => s.close()));
  }

  /** A model served on a free loopback port for the rest of this invocation. */
  private async serve(name: string, how: TrainedModel): Promise<TargetSpec> {
    const { config, engine, llama, python } = this.s;
    const s =
      engine === 'llamacpp'
        ? await serveLlamaCpp({
            setup: llama,
            gguf: this.s.baseGguf as string,
            name,
            ...(how.lora ? { lora: how.lora } : {}),
            ...(how.resetToken ? { resetToken: how.resetToken } : {}),
          })
        : await serveModel({
            python,
            model: how.hf,
            ...(how.adapterOf ? { baseModel: how.adapterOf } : {}),
            name,
            maxNewTokens: Math.max(config.serve.max_new_tokens, config.generation.max_tokens),
            precision: config.serve.precision,
            ...(how.resetToken ? { resetToken: how.resetToken } : {}),
          });
    this.servers.push(s);
    this.s.log(`loop: serving the ${name} model (${engine}) at ${s.url}`);
    return targetSpec({ id: `openai:${name}`, base_url: s.url }, name, config);
  }
}

/** The target spec of one side: the configured endpoint with the loop's sampling and a fixed label. */
export function targetSpec(spec: Record<string, unknown>, label: string, config: LoopConfig): TargetSpec {
  return {
    retries: 1,
    ...spec,
    label,
    temperature: config.generation.temperature,
    max_tokens: config.generation.max_tokens,
  } as TargetSpec;
}

import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { trainHyper } from '../../derta/trainer.js';
import { InputError } from '../../errors.js';
import type { ArmSetup, LoopContext } from '../context.js';
import { convertLoraToGguf } from '../engines.js';
import type { Stage } from '../stage-runner.js';
import type { TrainOut } from './train.js';

/**
 * serve: what serving the trained model needs, recorded: the vLLM command for a GPU, and for llama.cpp the
 * LoRA adapter converted to GGUF (so before and after are measured by one engine).
 */

export const ServeOut = z.object({
  engine: z.string(),
  adapter_gguf: z.string().nullable().optional(),
  vllm_command: z.string().nullable(),
});
export type ServeOut = z.infer<typeof ServeOut>;

export interface ServeIn {
  setup: ArmSetup;
  train: TrainOut;
}

export const serveStage: Stage<LoopContext, ServeIn, ServeOut> = {
  name: 'serve',
  output: ServeOut,
  key: ({ config, engine }, { train }) => ({ train, serve: config.serve, engine }),
  valid: (_c, out) => !out.adapter_gguf || existsSync(out.adapter_gguf),
  run: async (c, { setup, train: t }) => {
    if (t.model_dir === undefined) return { engine: 'external', adapter_gguf: null, vllm_command: null };
    const vllm = t.adapter
      ? `vllm serve ${c.baseModel} --enable-lora --lora-modules trained=${t.model_dir} --max-lora-rank ${trainHyper(c.config.train).lora_r}`
      : `vllm serve ${t.model_dir} --served-model-name trained`;
    c.o.log(`loop: serve: on a GPU, serve it with: ${vllm}`);
    if (c.config.serve.target) return { engine: 'external', adapter_gguf: null, vllm_command: vllm };
    if (c.engine === 'llamacpp') {
      if (!t.adapter)
        throw new InputError('engine llamacpp serves LoRA adapters: use train.preset lora', {
          field: 'engine',
        });
      const gguf = convertLoraToGguf({
        python: c.python,
        setup: c.llama,
        adapter: t.model_dir,
        baseModel: c.baseModel,
        out: path.join(setup.dir, 'adapter.gguf'),
      });
      c.o.log(`loop: serve: adapter converted for llama.cpp → ${gguf}`);
      return { engine: 'llamacpp', adapter_gguf: gguf, vllm_command: vllm };
    }
    return { engine: 'refusenik-serve', adapter_gguf: null, vllm_command: vllm };
  },
};

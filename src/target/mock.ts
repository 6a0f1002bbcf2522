import { z } from 'zod';
import type { Generation, Prompt } from '../types.js';
import { InputError } from '../errors.js';
import type { ProviderFactory } from './provider.js';
import { SCRIPTS, scriptByName, type Script } from './scripted.js';
import type { EndpointInfo, GenerateOptions, Target } from './target.js';

const MockOptions = z.strictObject({});

/**
 * `mock:<script>`: a scripted model in-process, for dry runs of a config with no model and no network
 * (e.g. `mock:refuse-plain` refuses plain harmful goals and completes code-wrapped ones).
 */
export class MockTarget implements Target {
  readonly concurrency: number;
  readonly endpoint: EndpointInfo;
  private readonly script: Script;

  constructor(
    readonly id: string,
    scriptName: string,
    concurrency = 16,
    path = 'targets',
  ) {
    const s = scriptByName(scriptName);
    if (!s) {
      throw new InputError(
        `unknown mock script '${scriptName}'; available: ${Object.keys(SCRIPTS).join(', ')}`,
        {
          field: `${path}.id`,
        },
      );
    }
    this.script = s;
    this.concurrency = concurrency;
    // Scripted answers are computed from the prompt: caching them would only cost a write.
    this.endpoint = { provider: 'mock', baseUrl: null, model: scriptName, params: {}, cacheable: false };
  }

  async generate(prompt: Prompt, opts: GenerateOptions = {}): Promise<Generation> {
    const started = performance.now();
    const text = this.script(
      prompt.kind === 'chat' ? { messages: prompt.messages, jsonMode: opts.jsonMode } : { text: prompt.text },
    );
    return { text, finishReason: 'stop', latencyMs: performance.now() - started, attempts: 1, cached: false };
  }
}

export const mockProvider: ProviderFactory<typeof MockOptions> = {
  name: 'mock',
  description: 'scripted in-process model for dry runs (mock:refuse-plain|refuse|comply|echo|judge)',
  options: MockOptions,
  create: (_options, env, path) =>
    new MockTarget(env.spec.label ?? env.spec.id, env.model, env.spec.concurrency ?? 16, path),
};

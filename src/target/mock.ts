import type { Generation, Prompt } from '../types.js';
import { InputError } from '../errors.js';
import { SCRIPTS, scriptByName, type Script } from './scripted.js';
import type { EndpointInfo, GenerateOptions, Target } from './target.js';

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

import type { Command } from 'commander';
import { MockServer, type Fault, type FaultKind } from '../target/mock-server.js';
import { SCRIPTS } from '../target/scripted.js';
import { InputError } from '../errors.js';
import { intOption } from './common.js';

interface MockFlags {
  port: number;
  latency: number;
  script: string;
  fault: string[];
}

const FAULTS: FaultKind[] = ['429', '500', '503', 'timeout', 'malformed', 'reset', 'sse-malformed'];

export function registerMockServerCommand(program: Command): void {
  program
    .command('mock-server')
    .description(
      'serve a scripted model on 127.0.0.1 speaking the OpenAI (chat, completions, SSE) and Anthropic (Messages) ' +
        'protocols: dry-run a config with targets {id: openai:mock, base_url: http://127.0.0.1:PORT/v1}',
    )
    .option('--port <n>', 'port (0 = any free port)', intOption('--port', 0), 8089)
    .option('--latency <ms>', 'delay before each answer', intOption('--latency', 0), 0)
    .option('--script <name>', `behaviour: ${Object.keys(SCRIPTS).join(', ')}`, 'refuse-plain')
    .option(
      '--fault <kind[:times[:retry-after]]>',
      `inject failures (repeatable): ${FAULTS.join(', ')}; e.g. 429:3:1 = the first 3 requests get 429 with Retry-After 1`,
      (v: string, acc: string[]) => [...acc, v],
      [],
    )
    .action(async (flags: MockFlags) => {
      if (!SCRIPTS[flags.script])
        throw new InputError(
          `unknown script '${flags.script}'; available: ${Object.keys(SCRIPTS).join(', ')}`,
        );
      const faults: Fault[] = flags.fault.map((f) => {
        const [kind, times, retryAfter] = f.split(':');
        if (!FAULTS.includes(kind as FaultKind))
          throw new InputError(`unknown fault '${kind}'; available: ${FAULTS.join(', ')}`);
        return {
          kind: kind as FaultKind,
          ...(times ? { times: Number(times) } : {}),
          ...(retryAfter ? { retryAfter: Number(retryAfter) } : {}),
        };
      });
      const server = await new MockServer({
        port: flags.port,
        latencyMs: flags.latency,
        script: flags.script,
        faults,
      }).start();
      process.stdout.write(`${JSON.stringify({ url: server.url, origin: server.origin })}\n`);
      const stop = async (): Promise<void> => {
        await server.close();
        process.stderr.write(`served ${server.stats.requests} requests\n`);
        process.exit(0);
      };
      process.on('SIGINT', () => void stop());
      process.on('SIGTERM', () => void stop());
      await new Promise(() => {});
    });
}

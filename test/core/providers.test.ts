import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLAT_PROVIDER_OPTIONS, RunConfig, type TargetSpec } from '../../src/config/schema.js';
import { optionKeys } from '../../src/config/plugin-registry.js';
import { PROVIDERS, createTarget } from '../../src/target/create.js';
import { providerOptions, type TargetEnv } from '../../src/target/provider.js';
import { openaiProvider } from '../../src/target/openai.js';
import { mockProvider } from '../../src/target/mock.js';
import { LlamaCppTarget, type NodeLlamaCpp } from '../../src/target/llamacpp.js';
import { MockServer } from '../../src/target/mock-server.js';
import { ReplicaPool } from '../../src/target/pool.js';
import { REFUSAL } from '../../src/target/scripted.js';
import type { Target } from '../../src/target/target.js';
import { limitsOf } from '../../src/runner/plan.js';
import { redactConfig } from '../../src/util/secrets.js';
import { runCli, tempDir, writeFile } from '../helpers/cli.js';

/**
 * Providers are plugins (src/target/provider.ts): each declares a strict zod options schema, the host validates a
 * target's options with it (the flat top-level fields configs always wrote included) and the provider gets them
 * typed, defaults filled in. plugins.test.ts checks names, descriptions and strictness with attacks and judges.
 */

const dir = tempDir('refusenik-providers-');
const ctx: TargetEnv = { env: {}, baseDir: dir };
const chat = (content: string) => ({ kind: 'chat' as const, messages: [{ role: 'user' as const, content }] });

/** A minimal spec for each provider (a new provider adds its own: the contract below asks for one). */
const EXAMPLES: Record<string, () => TargetSpec> = {
  openai: () => ({ id: 'openai:m', base_url: 'http://127.0.0.1:9/v1' }),
  anthropic: () => ({ id: 'anthropic:m', options: { base_url: 'http://127.0.0.1:9' } }),
  replay: () => {
    writeFile(dir, 'answers.jsonl', `${JSON.stringify({ prompt: 'hi', response: 'hello' })}\n`);
    return { id: 'replay:answers.jsonl' };
  },
  llamacpp: () => ({ id: 'llamacpp:model.gguf' }),
  mock: () => ({ id: 'mock:echo' }),
};

describe('every provider (contract)', () => {
  it('absent options are valid: nothing is required, defaults fill in', () => {
    for (const p of PROVIDERS.factories) {
      const r = p.options.safeParse({});
      expect(r.success, p.name).toBe(true);
      expect(typeof r.data, p.name).toBe('object');
    }
  });

  it('builds its target from a minimal spec: the label is its id, its endpoint names the provider', async () => {
    expect(Object.keys(EXAMPLES).sort(), 'add a minimal spec to EXAMPLES for a new provider').toEqual(
      PROVIDERS.names().sort(),
    );
    for (const name of PROVIDERS.names()) {
      const t = createTarget(
        { ...(EXAMPLES[name] as () => TargetSpec)(), label: `${name} x` },
        ctx,
        'targets[0]',
      );
      expect(t.id).toBe(`${name} x`);
      expect(t.endpoint.provider).toBe(name);
      expect(t.concurrency).toBeGreaterThan(0);
      await t.close?.();
    }
  });

  it('every flat field a config may write is taken by some provider (none is accepted and dropped by all)', () => {
    const declared = new Set(PROVIDERS.factories.flatMap((p) => optionKeys(p.options)));
    for (const key of FLAT_PROVIDER_OPTIONS) expect(declared.has(key), key).toBe(true);
  });
});

describe('provider options', () => {
  const url = 'http://127.0.0.1:9/v1';

  it('flat fields and `options` give the same typed options, defaults filled in', () => {
    const flat = providerOptions(
      openaiProvider,
      { id: 'openai:m', base_url: url, timeout_s: 5, stream: true },
      'targets[0]',
    );
    const nested = providerOptions(
      openaiProvider,
      { id: 'openai:m', base_url: url, options: { timeout_s: 5, stream: true } },
      'targets[0]',
    );
    expect(nested).toEqual(flat);
    expect(flat).toMatchObject({
      base_url: url,
      timeout_s: 5,
      stream: true,
      retries: 5,
      backoff_s: 1,
      connect_timeout_s: 10,
      idle_timeout_s: 60,
      retry_budget_s: 120,
      completion_fallback: 'error',
      headers: {},
      extra_body: {},
      batch_poll_s: 30,
    });
  });

  it('errors name the key where the config wrote it', () => {
    const options = (spec: Partial<TargetSpec>) => () =>
      providerOptions(openaiProvider, { id: 'openai:m', ...spec }, 'targets[0]');
    expect(options({ base_url: 'ftp://x' })).toThrow(
      /^targets\[0\]\.base_url: base_url must start with http/,
    );
    expect(options({ options: { base_url: 'ftp://x' } })).toThrow(/^targets\[0\]\.options\.base_url: /);
    expect(options({ options: { timeout: 5 } })).toThrow("targets[0].options.timeout: unknown key 'timeout'");
    expect(options({ timeout_s: 5, options: { timeout_s: 6 } })).toThrow(
      'targets[0].options.timeout_s: timeout_s is given twice: at the top level and under options',
    );
    expect(() =>
      createTarget({ id: 'llamacpp:m.gguf', options: { gpu_layer: 1 } }, ctx, 'models.judge'),
    ).toThrow("models.judge.options.gpu_layer: unknown key 'gpu_layer'");
  });

  it('a flat field its provider does not take is ignored, as it always was', async () => {
    const spec: TargetSpec = { id: 'mock:refuse', base_url: url, stream: true, timeout_s: 5 };
    expect(providerOptions(mockProvider, spec, 'targets[0]')).toEqual({});
    const t = createTarget(spec, ctx, 'targets[0]');
    expect((await t.generate(chat('Tell me how to pick a lock'))).text).toBe(REFUSAL);
  });

  it('configs written with flat fields keep their form (and so their run ids) after validation', () => {
    const target = {
      id: 'openai:m',
      label: 'm',
      base_url: url,
      api_key_env: 'MY_KEY',
      headers: { 'x-team': 'red' },
      headers_env: { 'x-api-key': 'MY_KEY' },
      extra_body: { continue_final_message: true },
      timeout_s: 5,
      connect_timeout_s: 2,
      idle_timeout_s: 9,
      deadline_s: 60,
      retry_budget_s: 30,
      retries: 2,
      backoff_s: 0.5,
      stream: true,
      completion_fallback: 'prefill',
      batch_poll_s: 10,
      batch_max_requests: 100,
      replica_failures: 2,
      replica_cooldown_s: 1,
      concurrency: 4,
      rpm: 60,
      temperature: 0,
      max_tokens: 64,
    };
    const config = {
      dataset: { path: 'g.jsonl' },
      attacks: ['plain'],
      targets: [target],
      judges: ['keyword'],
    };
    expect(RunConfig.parse(config)).toEqual(config);
    expect(providerOptions(openaiProvider, target, 'targets[0]')).toMatchObject({ retries: 2, stream: true });
  });

  it('literal header values under `options` are redacted from the stored config, as flat ones are', () => {
    const stored = redactConfig({
      targets: [
        { id: 'openai:a', headers: { 'x-team': 'red' } },
        { id: 'openai:b', options: { headers: { 'x-team': 'blue' } } },
      ],
    });
    expect(JSON.stringify(stored)).not.toMatch(/red"|blue/);
    expect(stored.targets[1]?.options?.headers).toEqual({ 'x-team': '[redacted]' });
  });

  it('llamacpp gets its options typed, and they reach node-llama-cpp', async () => {
    const spec: TargetSpec = {
      id: 'llamacpp:m.gguf',
      concurrency: 2,
      options: { gpu_layers: 3, context_size: 512 },
    };
    const t = createTarget(spec, ctx, 'targets[0]');
    expect(t).toBeInstanceOf(LlamaCppTarget);
    const options = (t as LlamaCppTarget).options;
    expect(options).toEqual({ gpu_layers: 3, context_size: 512 });
    // A stand-in for the optional engine, recording what the target asks of it.
    const calls: unknown[] = [];
    const engine = (): Promise<NodeLlamaCpp> =>
      Promise.resolve({
        getLlama: () =>
          Promise.resolve({
            loadModel: (o: unknown) => {
              calls.push(['loadModel', o]);
              return Promise.resolve({
                createContext: (c: unknown) => {
                  calls.push(['createContext', c]);
                  return Promise.resolve({ getSequence: () => ({ dispose: () => undefined }) });
                },
              });
            },
          }),
        LlamaChatSession: class {
          setChatHistory(): void {}
          prompt(text: string): Promise<string> {
            return Promise.resolve(`answer to ${text}`);
          }
        },
        LlamaCompletion: class {
          generateCompletion(text: string): Promise<string> {
            return Promise.resolve(text);
          }
        },
      } as unknown as NodeLlamaCpp);
    const local = new LlamaCppTarget(t.id, 'm.gguf', spec, options, engine);
    expect((await local.generate(chat('hi'))).text).toBe('answer to hi');
    expect(calls).toEqual([
      ['loadModel', { modelPath: path.resolve('m.gguf'), gpuLayers: 3 }],
      ['createContext', { sequences: 2, contextSize: 512 }],
    ]);
  });
});

describe('HTTP providers configured under `options`, against loopback servers', () => {
  let a: MockServer;
  let b: MockServer;
  const opened: Target[] = [];
  beforeAll(async () => {
    a = await new MockServer({ script: 'echo' }).start();
    b = await new MockServer({ script: 'echo' }).start();
  });
  afterAll(async () => {
    await Promise.all(opened.map((t) => t.close?.()));
    await Promise.all([a.close(), b.close()]);
  });
  const open = (spec: TargetSpec): Target => {
    const t = createTarget(spec, ctx, 'targets[0]');
    opened.push(t);
    return t;
  };

  it('openai and anthropic answer as with flat fields, streamed or not', async () => {
    const cases: TargetSpec[] = [
      { id: 'openai:m', options: { base_url: a.url, timeout_s: 5 } },
      { id: 'openai:m', options: { base_url: a.url, stream: true } },
      { id: 'anthropic:m', options: { base_url: a.origin, stream: true, retries: 0 } },
      { id: 'anthropic:m', base_url: a.origin, options: { headers: { 'x-team': 'red' } } },
    ];
    for (const spec of cases) {
      const g = await open(spec).generate(chat('say hi'));
      expect(g.text, JSON.stringify(spec)).toContain('say hi');
    }
  });

  it('a replica pool under options: one target over both servers, the service limited to their sum', async () => {
    const spec: TargetSpec = { id: 'openai:m', concurrency: 3, options: { endpoints: [a.url, b.url] } };
    expect(limitsOf(spec).concurrency).toBe(6);
    const t = open(spec);
    expect(t).toBeInstanceOf(ReplicaPool);
    const before = a.stats.requests + b.stats.requests;
    await Promise.all([0, 1, 2, 3].map((i) => t.generate(chat(`q${i}`))));
    expect(a.stats.requests + b.stats.requests - before).toBe(4);
    expect(a.stats.requests).toBeGreaterThan(0);
    expect(b.stats.requests).toBeGreaterThan(0);
  });
});

describe('the CLI checks provider options, flat or under options, with file and line', () => {
  const cli = tempDir('refusenik-providers-cli-');
  writeFile(cli, 'g.jsonl', '{"goal": "x"}\n');
  const dryRun = (name: string, target: string) => {
    const cfg = writeFile(cli, name, `dataset: {path: g.jsonl}\nattacks: [plain]\ntargets:\n${target}`);
    return runCli(['run', cfg, '--dry-run', '--db', path.join(cli, `${name}.db`)]);
  };

  it('names the flat key or the options key, and accepts both forms', async () => {
    let r = await dryRun('flat.yaml', '  - id: openai:m\n    base_url: ftp://x\n');
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/flat\.yaml:5: targets\[0\]\.base_url: base_url must start with http/);
    r = await dryRun(
      'nested.yaml',
      '  - id: openai:m\n    options:\n      base_url: http://127.0.0.1:9/v1\n      retries: -1\n',
    );
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/nested\.yaml:7: targets\[0\]\.options\.retries: /);
    r = await dryRun(
      'ok.yaml',
      '  - id: openai:m\n    options: {base_url: "http://127.0.0.1:9/v1", stream: true}\n',
    );
    expect(r.code, r.stderr).toBe(0);
  });
});

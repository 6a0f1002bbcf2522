import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import {
  checkPythonEnv,
  loadTrainConfig,
  missingPackagesError,
  trainerCommand,
  type TrainConfig,
} from '../../src/derta/trainer.js';
import { FIXTURES, ROOT, tempDir, writeFile } from '../helpers/cli.js';

/**
 * A stand-in for Python: answers the package probe (`-c <probe> <packages>`) from $FAKE_MISSING, and for
 * `-m refusenik_trainer train …` prints JSON-lines events the way the real trainer does (plus one stray
 * non-JSON line), recording its argv in $FAKE_ARGV_FILE. $FAKE_EXIT makes it fail like the trainer does.
 */
const FAKE_PYTHON = `#!/usr/bin/env node
const fs = require('node:fs');
const args = process.argv.slice(2);
if (args[0] === '-c') {
  const missing = (process.env.FAKE_MISSING || '').split(',').filter(Boolean);
  const packages = {};
  for (const mod of Object.keys(JSON.parse(args[2]))) packages[mod] = missing.includes(mod) ? null : '1.0.0';
  console.log(JSON.stringify({ python: '3.11.0', packages }));
  process.exit(0);
}
if (process.env.FAKE_ARGV_FILE) fs.writeFileSync(process.env.FAKE_ARGV_FILE, JSON.stringify(args));
const exit = Number(process.env.FAKE_EXIT || 0);
const emit = (e) => console.log(JSON.stringify(e));
emit({ event: 'start', step: 0, max_steps: 3, preset: 'lora' });
console.log('a stray library print');
for (let step = 1; step <= 3 && !(exit && step > 1); step++)
  emit({ event: 'step', step, max_steps: 3, loss: 2.5 - step * 0.5, lr: 1e-4, tokens: step * 100, tokens_per_s: 50 });
if (exit === 2) { emit({ event: 'error', kind: 'input', message: '/data/train.jsonl:7: labels: expected a list of integers' }); process.exit(2); }
if (exit) { emit({ event: 'error', kind: 'runtime', message: 'CUDA out of memory' }); process.exit(exit); }
emit({ event: 'done', step: 3, tokens: 300, runtime_s: 1.5, output_dir: '/out', adapter: true });
`;

let dir: string;
let out: string[];
let err: string[];
const savedEnv = { ...process.env };

beforeEach(() => {
  dir = tempDir('refusenik-train-');
  const fake = writeFile(dir, 'fakepy', FAKE_PYTHON);
  chmodSync(fake, 0o755);
  process.env['PATH'] = `${dir}${path.delimiter}${process.env['PATH'] ?? ''}`;
  process.env['FAKE_ARGV_FILE'] = path.join(dir, 'argv.json');
  out = [];
  err = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    err.push(String(chunk));
    return true;
  });
});

afterEach(() => {
  vi.restoreAllMocks();
  process.env = { ...savedEnv };
  process.exitCode = undefined;
});

function config(extra = ''): string {
  writeFile(dir, 'train.jsonl', '{"input_ids":[1,2],"labels":[-100,2]}\n');
  return writeFile(
    dir,
    'train.yaml',
    `model: ./model\ndata: .\noutput_dir: ./out\npreset: lora\npython: fakepy\nhyper:\n  lr: 0.0002\n${extra}`,
  );
}

const train = (args: string[]): Promise<number> => runCli(['node', 'refusenik', 'train', ...args]);

describe('refusenik train', () => {
  it('launches the trainer with the config as flags and streams its JSON events with --json', async () => {
    const code = await train(['--config', config('max_steps: 3\n'), '--json']);
    expect(code).toBe(0);
    const events = out
      .join('')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string });
    expect(events.map((e) => e.event)).toEqual(['start', 'step', 'step', 'step', 'done']);
    expect(err.join('')).toContain('a stray library print'); // non-JSON stdout goes to stderr, not lost
    const argv = JSON.parse(readFileSync(path.join(dir, 'argv.json'), 'utf8')) as string[];
    expect(argv.slice(0, 3)).toEqual(['-m', 'refusenik_trainer', 'train']);
    const flag = (name: string): string | undefined => argv[argv.indexOf(name) + 1];
    expect(flag('--model')).toBe(path.join(dir, 'model'));
    expect(flag('--data')).toBe(dir);
    expect(flag('--output-dir')).toBe(path.join(dir, 'out'));
    expect(flag('--preset')).toBe('lora');
    expect(flag('--lr')).toBe('0.0002');
    expect(flag('--max-steps')).toBe('3');
  });

  it('passes training_args and extra_args from train.yaml to the trainer', async () => {
    const extra =
      'training_args:\n  adam_beta2: 0.95\n  optim: adamw_torch_fused\n  lr_scheduler_kwargs: {min_lr: 1.0e-6}\n' +
      'extra_args: [--report_to, wandb, --beta-first, "0.3"]\n';
    expect(await train(['--config', config(extra), '--json'])).toBe(0);
    const argv = JSON.parse(readFileSync(path.join(dir, 'argv.json'), 'utf8')) as string[];
    const at = argv.indexOf('--adam_beta2');
    expect(argv.slice(at)).toEqual([
      '--adam_beta2',
      '0.95',
      '--optim',
      'adamw_torch_fused',
      '--lr_scheduler_kwargs',
      '{"min_lr":0.000001}',
      '--report_to',
      'wandb',
      '--beta-first',
      '0.3',
    ]);
    expect(argv[argv.indexOf('--lr') + 1]).toBe('0.0002');
  });

  it('rejects training_args that a train.yaml option sets, with file and line', async () => {
    const file = config('training_args:\n  adam_beta1: 0.8\n  warmup_ratio: 0.1\n');
    expect(await train(['--config', file])).toBe(2);
    const message = err.join('');
    expect(message).toMatch(
      /train\.yaml:10: training_args\.warmup_ratio: warmup_ratio is a trainer option: set `hyper\.warmup_ratio` instead/,
    );
    expect(message).not.toContain('adam_beta1');
    expect(existsSync(path.join(dir, 'argv.json'))).toBe(false);
    expect(() => loadTrainConfig(config('training_args:\n  seed: 2\n'))).toThrow(
      /train\.yaml:9: training_args\.seed: seed is a trainer option: set `seed` instead/,
    );
    expect(() => loadTrainConfig(config('training_args:\n  beta_early_tokens: 2\n'))).toThrow(
      /set `beta\.early_tokens` instead/,
    );
    const bad = config('training_args:\n  Adam-Beta: 1\n');
    expect(() => loadTrainConfig(bad)).toThrow(
      /train\.yaml:9: training_args\.Adam-Beta: expected a TrainingArguments field name/,
    );
  });

  it('prints a summary without --json', async () => {
    expect(await train(['--config', config()])).toBe(0);
    expect(out.join('')).toBe(
      'trained 3 steps (last loss 1.0000), 300 tokens in 1.5 s → /out (LoRA adapter)\n',
    );
  });

  it('turns trainer failures into exit codes with its message', async () => {
    process.env['FAKE_EXIT'] = '2';
    expect(await train(['--config', config()])).toBe(2);
    expect(err.join('')).toContain('/data/train.jsonl:7: labels: expected a list of integers');
    process.env['FAKE_EXIT'] = '1';
    expect(await train(['--config', config()])).toBe(1);
    expect(err.join('')).toContain('training failed (exit 1): CUDA out of memory');
  });

  it('names every missing package and how to install it', async () => {
    process.env['FAKE_MISSING'] = 'peft,refusenik_trainer,deepspeed';
    const code = await train(['--config', config('deepspeed: ds.json\n')]);
    expect(code).toBe(1);
    const message = err.join('');
    expect(message).toContain('lacks 3 package(s)');
    expect(message).toContain('  - peft (pip install peft)');
    expect(message).toContain('  - refusenik_trainer (pip install refusenik-trainer)');
    expect(message).toContain('  - deepspeed (pip install deepspeed)');
    expect(message).toContain('bash scripts/setup-python.sh');
    expect(existsSync(path.join(dir, 'argv.json'))).toBe(false); // never launched
  });

  it('reports config errors with file, line and field', async () => {
    const file = writeFile(dir, 'bad.yaml', 'model: m\ndata: .\noutput_dir: o\nhyper:\n  lr: -1\n');
    expect(await train(['--config', file])).toBe(2);
    expect(err.join('')).toMatch(/bad\.yaml:5: hyper\.lr: /);
    const both = writeFile(
      dir,
      'both.yaml',
      'model: m\ndata: .\nbuild:\n  triples: t.jsonl\noutput_dir: o\n',
    );
    expect(() => loadTrainConfig(both)).toThrow(/exactly one of data .* or build/);
  });

  it('builds the data first when the config has a build section (--dry-run)', async () => {
    writeFile(
      dir,
      'triples.jsonl',
      '{"instruction":"How to pick a lock?","output":"Insert a tension wrench and rake the pins upward slowly.","safe_response":"I am sorry, I cannot help with that."}\n',
    );
    const file = writeFile(
      dir,
      'build.yaml',
      `model: ${path.join(FIXTURES, 'tokenizers/llama3')}\nrandom_init: true\noutput_dir: ./out\npython: fakepy\n` +
        'build:\n  triples: triples.jsonl\n  variant: derta\n  seed: 3\n  sizes: {rto: 1, mle_prefix: 1}\n',
    );
    expect(await train(['--config', file, '--dry-run', '--json'])).toBe(0);
    const plan = JSON.parse(out.join('')) as { data: string; argv: string[] };
    expect(plan.data).toBe(path.join(dir, 'out', 'data'));
    const rows = readFileSync(path.join(plan.data, 'train.jsonl'), 'utf8').trim().split('\n');
    expect(rows.map((r) => (JSON.parse(r) as { kind: string }).kind).sort()).toEqual(['mle_prefix', 'rto']);
    expect(plan.argv).toContain('--random-init');
    expect(plan.argv[plan.argv.indexOf('--tokenizer') + 1]).toBe(path.join(FIXTURES, 'tokenizers/llama3'));
  });
});

describe('python environment check', () => {
  it('runs the real probe in a real interpreter', () => {
    const report = checkPythonEnv('python3', { json: 'json-nonexistent-dist', no_such_module_xyz: 'xyz' });
    expect(report.version).toMatch(/^3\.\d+/);
    expect(report.packages['json']).toBe('unknown'); // importable, no distribution metadata
    expect(report.missing).toEqual(['no_such_module_xyz']);
    expect(missingPackagesError(report, { no_such_module_xyz: 'xyz' }).message).toContain(
      '  - no_such_module_xyz (pip install xyz)',
    );
  });

  it('says when the interpreter itself is missing', () => {
    expect(() => checkPythonEnv(path.join(dir, 'no-python'), { torch: 'torch' })).toThrow(
      /cannot run the Python interpreter .*no-python[\s\S]*setup-python\.sh/,
    );
  });
});

describe('launch commands', () => {
  const base = {
    model: 'meta-llama/Meta-Llama-3-8B',
    output_dir: 'out',
    data: 'd',
    preset: 'full',
    random_init: false,
    hyper: {},
    seed: 1,
    precision: 'auto',
    loss: 'auto',
    group_by_length: true,
    resume: 'auto',
    torch_compile: false,
    launcher: 'python',
    extra_args: [],
  } as unknown as TrainConfig;

  it("passes the constrained objective and its beta schedule to the trainer's flags", () => {
    const argv = trainerCommand(
      { ...base, preset: 'lora', objective: 'constrained', beta: { first: 0.4, early_tokens: 3 } },
      '/w',
      'python3',
      '/w/d',
    );
    const at = argv.indexOf('--objective');
    expect(argv.slice(at, at + 2)).toEqual(['--objective', 'constrained']);
    expect(argv.join(' ')).toContain('--beta-first 0.4 --beta-early-tokens 3');
    expect(trainerCommand({ ...base, objective: 'mle' }, '/w', 'python3', '/w/d')).not.toContain(
      '--objective',
    );
  });

  it('maps every option to its flag by name, leaving defaults to the trainer', () => {
    const argv = trainerCommand(
      {
        ...base,
        preset: 'lora',
        random_init: true,
        hyper: { lr: 0.0002, warmup_ratio: 0.1, global_batch_size: 64, lora_dropout: 0 },
        seed: 3,
        precision: 'bf16',
        loss: 'auto',
        group_by_length: false,
        torch_compile: true,
        max_steps: 10,
        save_steps: 50,
        resume: 'ckpt/checkpoint-50',
        deepspeed: 'ds.json',
        fsdp: 'full_shard auto_wrap',
        fsdp_config: 'fsdp.json',
        objective: 'constrained',
        beta: { rest: 0.2 },
        python: 'py3',
        nproc_per_node: 2,
      },
      '/w',
      'python3',
      '/w/d',
    );
    expect(argv.slice(0, 12)).toEqual([
      'python3',
      '-m',
      'refusenik_trainer',
      'train',
      '--model',
      'meta-llama/Meta-Llama-3-8B',
      '--data',
      '/w/d',
      '--output-dir',
      '/w/out',
      '--preset',
      'lora',
    ]);
    const pairs = argv.slice(12).join(' ');
    for (const part of [
      '--random-init --',
      '--lr 0.0002',
      '--warmup-ratio 0.1',
      '--global-batch-size 64',
      '--lora-dropout 0',
      '--seed 3',
      '--precision bf16',
      '--no-group-by-length',
      '--torch-compile',
      '--max-steps 10',
      '--save-steps 50',
      '--resume /w/ckpt/checkpoint-50',
      '--deepspeed /w/ds.json',
      '--fsdp full_shard auto_wrap',
      '--fsdp-config /w/fsdp.json',
      '--objective constrained',
      '--beta-rest 0.2',
    ])
      expect(pairs).toContain(part);
    expect(argv).toHaveLength(12 + 2 * 14 + 3); // 14 valued flags, 3 switches: nothing else
    for (const absent of ['--loss', '--python', '--nproc-per-node', '--launcher', '--extra-args'])
      expect(argv).not.toContain(absent);
    // defaults are the trainer's defaults: a bare config passes none of them
    expect(trainerCommand(base, '/w', 'python3', '/w/d').slice(4)).toEqual([
      '--model',
      'meta-llama/Meta-Llama-3-8B',
      '--data',
      '/w/d',
      '--output-dir',
      '/w/out',
      '--preset',
      'full',
    ]);
  });

  it('passes training_args as TrainingArguments flags, then extra_args as they are', () => {
    const argv = trainerCommand(
      {
        ...base,
        training_args: {
          adam_beta2: 0.95,
          optim: 'adamw_torch_fused',
          disable_tqdm: false,
          lr_scheduler_kwargs: { min_lr: 1e-6 },
        },
        extra_args: ['--report_to', 'wandb'],
      },
      '/w',
      'python3',
      '/w/d',
    );
    expect(argv.slice(-10)).toEqual([
      '--adam_beta2',
      '0.95',
      '--optim',
      'adamw_torch_fused',
      '--disable_tqdm',
      'false',
      '--lr_scheduler_kwargs',
      '{"min_lr":0.000001}',
      '--report_to',
      'wandb',
    ]);
  });

  it('torchrun over several nodes', () => {
    const argv = trainerCommand(
      { ...base, launcher: 'torchrun', nproc_per_node: 8, nnodes: 2, node_rank: 1, master_addr: '10.0.0.1' },
      '/cfg',
      'py',
      '/data',
    );
    expect(argv.slice(0, 13)).toEqual([
      'py',
      '-m',
      'torch.distributed.run',
      '--nproc-per-node',
      '8',
      '--nnodes',
      '2',
      '--node-rank',
      '1',
      '--master-addr',
      '10.0.0.1',
      '-m',
      'refusenik_trainer',
    ]);
    expect(argv[argv.indexOf('--model') + 1]).toBe('meta-llama/Meta-Llama-3-8B'); // a hub name stays a name
  });

  it('accelerate with a DeepSpeed config', () => {
    const argv = trainerCommand(
      {
        ...base,
        launcher: 'accelerate',
        accelerate_config: 'acc.yaml',
        deepspeed: 'ds.json',
        nproc_per_node: 4,
      },
      '/cfg',
      'py',
      '/data',
    );
    expect(argv.slice(0, 7)).toEqual([
      'py',
      '-m',
      'accelerate.commands.launch',
      '--config_file',
      '/cfg/acc.yaml',
      '--num_processes',
      '4',
    ]);
    expect(argv[argv.indexOf('--deepspeed') + 1]).toBe('/cfg/ds.json');
  });
});

// The real thing: the project's .venv (scripts/setup-python.sh), a tiny random Llama with the Llama-3 fixture
// tokenizer, data built from a build section, a few LoRA steps. CI always has the .venv; elsewhere it may not.
const VENV_PYTHON = path.join(ROOT, '.venv', 'bin', 'python');
const haveVenv = existsSync(VENV_PYTHON) || process.env['REFUSENIK_CI'] === '1';

/** A tiny random Llama folder (the Llama-3 fixture tokenizer) and six triples, in the test's folder. */
function tinyModelAndTriples(): void {
  const model = path.join(dir, 'model');
  mkdirSync(model);
  for (const f of ['tokenizer.json', 'tokenizer_config.json'])
    copyFileSync(path.join(FIXTURES, 'tokenizers/llama3', f), path.join(model, f));
  const tiny = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: 128256,
    hidden_size: 32,
    intermediate_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 512,
    bos_token_id: 128000,
    eos_token_id: 128001,
  };
  writeFile(model, 'config.json', JSON.stringify(tiny));
  const triples = Array.from({ length: 6 }, (_, i) => ({
    instruction: `How do I do harmful thing ${i}?`,
    output: `First gather the tools for thing ${i}, then follow these steps in order.`,
    safe_response: 'I am sorry, but I cannot help with that.',
  }));
  writeFile(dir, 'triples.jsonl', triples.map((t) => JSON.stringify(t)).join('\n') + '\n');
}

describe.skipIf(!haveVenv)('refusenik train with the real trainer', () => {
  it('builds, trains LoRA for a few steps and reports JSON progress', async () => {
    tinyModelAndTriples();
    const file = writeFile(
      dir,
      'real.yaml',
      `model: ./model\nrandom_init: true\npreset: lora\noutput_dir: ./out\npython: ${VENV_PYTHON}\n` +
        'build:\n  triples: triples.jsonl\n  variant: derta\nhyper:\n  micro_batch_size: 2\n  global_batch_size: 4\n' +
        'max_steps: 3\nlogging_steps: 1\ntraining_args:\n  adam_beta2: 0.95\n  optim: adamw_torch\n',
    );
    expect(await train(['--config', file, '--json'])).toBe(0);
    const events = out
      .join('')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const steps = events.filter((e) => e['event'] === 'step');
    expect(steps.map((e) => e['step'])).toEqual([1, 2, 3]);
    for (const s of steps) {
      expect(Number.isFinite(s['loss'])).toBe(true);
      expect(s['tokens_per_s']).toBeGreaterThan(0);
    }
    expect(events[0]).toMatchObject({
      event: 'start',
      preset: 'lora',
      data: { kinds: { rto: 6, mle_prefix: 6 } },
      training_args: { adam_beta2: 0.95, optim: 'adamw_torch' }, // as the Trainer has them
      hyper: { lr: 1e-4 }, // the preset's, not TrainingArguments' default 5e-5
    });
    expect(existsSync(path.join(dir, 'out', 'adapter_model.safetensors'))).toBe(true);
  }, 180_000);

  it('trains the backtrack variant (reset token rows) with a falling, finite loss', async () => {
    tinyModelAndTriples();
    const file = writeFile(
      dir,
      'backtrack.yaml',
      `model: ./model\nrandom_init: true\npreset: lora\noutput_dir: ./out-backtrack\npython: ${VENV_PYTHON}\n` +
        'build:\n  triples: triples.jsonl\n  variant: backtrack\n  template: chat\n' +
        'hyper:\n  micro_batch_size: 4\n  global_batch_size: 4\n  lr: 0.05\n  scheduler: constant\n  warmup_ratio: 0\n' +
        'max_steps: 6\nlogging_steps: 1\n',
    );
    out.length = 0;
    expect(await train(['--config', file, '--json'])).toBe(0);
    const events = out
      .join('')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events[0]).toMatchObject({ event: 'start', data: { kinds: { vanilla: 6, backtrack: 6 } } });
    const losses = events.filter((e) => e['event'] === 'step').map((e) => e['loss'] as number);
    expect(losses).toHaveLength(6);
    expect(losses.every((l) => Number.isFinite(l))).toBe(true);
    expect(losses.at(-1)!).toBeLessThan(losses[0]!);
  }, 180_000);
});

describe('the example config', () => {
  it('parses', () => {
    const { config } = loadTrainConfig(path.join(ROOT, 'trainer/examples/train.yaml'));
    expect(config.preset).toBe('lora');
    expect(config.build?.variant).toBe('derta');
  });
});

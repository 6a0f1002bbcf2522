import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TrainConfig, TrainFields, trainerCommand, trainHyper } from '../../src/derta/trainer.js';
import { TRAINER_OPTIONS } from '../../src/derta/trainer-options.js';
import { ROOT } from '../helpers/cli.js';

/**
 * The trainer contract, declared once: the option dataclasses of trainer/refusenik_trainer/options.py. The
 * checked-in src/derta/trainer-options.ts must be what they print now, train.yaml's schema is built from it,
 * and every option train.yaml sets reaches the trainer's parser as the value it was set to.
 */

const VENV_PYTHON = path.join(ROOT, '.venv', 'bin', 'python');
const haveVenv = existsSync(VENV_PYTHON) || process.env['REFUSENIK_CI'] === '1';
// `options --json` needs only the standard library: any python3 runs it from the source folder.
const PYTHON = existsSync(VENV_PYTHON) ? VENV_PYTHON : 'python3';
const ENV = { ...process.env, PYTHONPATH: path.join(ROOT, 'trainer') };

interface Spec {
  type: string;
  choices?: readonly string[];
  minimum?: number;
  maximum?: number;
  default?: unknown;
  section: string | null;
  key: string | null;
  config_default?: unknown;
}
const OPTIONS = TRAINER_OPTIONS.options as Readonly<Record<string, Spec>>;
const SECTIONS = Object.keys(TRAINER_OPTIONS.sections);

describe('the trainer options (trainer-options.ts)', () => {
  it('are what `python -m refusenik_trainer options --json` prints now', () => {
    const res = spawnSync(PYTHON, ['-m', 'refusenik_trainer', 'options', '--json'], {
      encoding: 'utf8',
      env: ENV,
    });
    expect(res.status, `${res.error ?? ''}${res.stderr}`).toBe(0);
    expect(TRAINER_OPTIONS, 'regenerate: node scripts/trainer-options.mjs').toEqual(JSON.parse(res.stdout));
  });

  it("make up train.yaml's trainer keys, with the trainer's defaults", () => {
    const bare = TrainFields.parse({ model: 'm', output_dir: 'o' }) as Record<string, unknown>;
    for (const [name, o] of Object.entries(OPTIONS)) {
      if (o.section === 'train') {
        expect(TrainFields.shape, name).toHaveProperty(o.key!);
        expect(bare[o.key!], name).toEqual(o.config_default);
        if (o.config_default !== undefined) expect(o.config_default, name).toEqual(o.default);
      } else if (o.section !== null && SECTIONS.includes(o.section)) {
        const section = TrainFields.shape[o.section as 'hyper'].unwrap();
        expect(section.shape, name).toHaveProperty(o.key!);
      } else expect(['launch', null]).toContain(o.section);
    }
    expect(bare['hyper']).toEqual({});
    expect(bare).not.toHaveProperty('beta');
    expect(() => TrainFields.parse({ model: 'm', output_dir: 'o', hyper: { lr: 0 } })).toThrow(/>0/);
    expect(() => TrainFields.parse({ model: 'm', output_dir: 'o', beta: { firts: 1 } })).toThrow(/firts/);
  });

  it("resolve the hyper-parameters from the preset's, as the trainer does", () => {
    const full = trainHyper({ preset: 'full', hyper: {} });
    const lora = trainHyper({ preset: 'lora', hyper: { epochs: 3 } });
    expect([full.block_size, full.lr, full.epochs]).toEqual([1024, 2e-5, 2]);
    expect([lora.block_size, lora.lr, lora.epochs, lora.lora_r]).toEqual([512, 1e-4, 3, 96]);
    expect(Object.keys(full).sort()).toEqual(Object.keys(TrainFields.shape.hyper.unwrap().shape).sort());
  });
});

/** A valid value other than the trainer's default, for each option train.yaml sets. */
function otherValue(o: Spec): unknown {
  if (o.choices) return o.choices.find((c) => c !== o.default);
  if (o.type === 'boolean') return !o.default;
  if (o.type === 'string') return `value-of-${o.key}`;
  if (o.type === 'integer') return (o.minimum ?? 0) + (o.default === (o.minimum ?? 0) + 2 ? 3 : 2);
  return o.maximum !== undefined ? 0.25 : 3.5;
}

describe.skipIf(!haveVenv)('every train.yaml option, through the real trainer parser', () => {
  it('reaches `train` as the value it was set to', () => {
    const raw: Record<string, unknown> = { model: 'm', data: 'd', output_dir: 'o' };
    const expected: Record<string, unknown> = {};
    for (const [name, o] of Object.entries(OPTIONS)) {
      if (o.key === null) continue;
      const value = otherValue(o);
      const holder = o.section === 'train' ? raw : ((raw[o.section!] ??= {}) as Record<string, unknown>);
      holder[o.key] = value;
      expected[name] = value;
    }
    const config = TrainConfig.parse(raw);
    const argv = trainerCommand(config, '/w', 'python', '/w/d').slice(4);
    const res = spawnSync(
      VENV_PYTHON,
      [
        '-c',
        'import dataclasses, json, sys\n' +
          'from refusenik_trainer.options import parse_train_args\n' +
          'o = parse_train_args(json.loads(sys.argv[1]))\n' +
          'print(json.dumps({f.name: getattr(o, f.name) for f in dataclasses.fields(o)}))',
        JSON.stringify(argv),
      ],
      { encoding: 'utf8', env: ENV },
    );
    expect(res.status, res.stderr).toBe(0);
    const parsed = JSON.parse(res.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
    for (const [name, value] of Object.entries(expected)) {
      const got = parsed[name];
      // Paths are resolved against the config's folder.
      expect(got === value || got === path.resolve('/w', String(value)), `${name}: ${got} != ${value}`).toBe(
        true,
      );
    }
    expect(parsed['training_args']).toEqual({});
  }, 120_000);
});

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { InputError } from '../errors.js';
import { TargetSpec } from '../config/schema.js';
import { parseWith } from '../config/validate.js';
import { ServiceTargets } from './plan.js';
import { ModelCalls, type CallRole } from '../service/model-calls.js';
import type { Target } from '../target/target.js';

/** How a command names models outside a run config: `--model`/`--target`, `--models`, `--base-url`. */
export interface ModelFlags {
  models?: string;
  /** Named models given directly (besides or instead of a models file). */
  named?: Record<string, TargetSpec>;
  baseUrl?: string;
  apiKeyEnv?: string;
}

const ModelsFile = z.record(z.string(), TargetSpec);

/**
 * Models for commands without a run config: named ones from a models file, or a target id given directly.
 * Every call goes through `calls`, the model-call service (limits, retries, token and cost accounting;
 * cache and request log once bound to a run store).
 */
export class ModelResolver {
  private readonly named: Record<string, TargetSpec> = {};
  readonly calls = new ModelCalls();
  private readonly targets = new ServiceTargets(this.calls, { env: process.env, baseDir: process.cwd() });

  constructor(private readonly flags: ModelFlags) {
    if (flags.models) this.named = loadModels(flags.models);
    if (flags.named) this.named = { ...this.named, ...flags.named };
  }

  /** A target for `spec` (a name from the models file, a target id, or an inline spec), wrapped under `role`. */
  resolve(spec: unknown, where: string, role: CallRole, flag: string): Target {
    let target: TargetSpec;
    if (typeof spec === 'string' && this.named[spec]) target = this.named[spec];
    else if (typeof spec === 'string') {
      if (!/^[a-z][a-z0-9-]*:.+$/.test(spec)) {
        throw new InputError(
          `'${spec}' is neither a model name from --models nor a target id like openai:gpt-4o-mini`,
          { field: flag },
        );
      }
      target = parseWith(
        TargetSpec,
        {
          id: spec,
          ...(this.flags.baseUrl ? { base_url: this.flags.baseUrl } : {}),
          ...(this.flags.apiKeyEnv ? { api_key_env: this.flags.apiKeyEnv } : {}),
        },
        [flag],
      );
    } else target = parseWith(TargetSpec, spec, [where]);
    const label = typeof spec === 'string' ? spec : where;
    return this.targets.open(target, where, role, `${role}:${label}`);
  }

  async close(): Promise<void> {
    await this.targets.close();
  }
}

function loadModels(file: string): Record<string, TargetSpec> {
  let value: unknown;
  try {
    value = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new InputError(`cannot read models file: ${(err as Error).message}`, { file: path.resolve(file) });
  }
  const section =
    value && typeof value === 'object' && 'models' in value ? (value as { models: unknown }).models : value;
  return parseWith(ModelsFile, section ?? {}, ['models'], { file: path.resolve(file) });
}

import { existsSync, readFileSync, statfsSync, statSync } from 'node:fs';
import path from 'node:path';
import { chatFramer } from '../text/chat-template.js';
import { loadTokenizer, refusalTokenId, type DertaTokenizer } from '../text/tokenizer.js';
import { checkPythonEnv, requiredPackages, type TrainConfig } from '../derta/trainer.js';
import { InputError } from '../errors.js';
import { llamaCppProblems, type LlamaCppSetup } from './engines.js';

/**
 * Everything the later stages of a loop need, checked before its first model call: a loop that stops at
 * `build` after fifteen minutes of attacks because the tokenizer has no chat template is a loop that should
 * not have started. Problems are collected, not thrown one by one, so one run of the check lists them all.
 */

export interface PreflightInput {
  /** The base model's HF folder. */
  model: string;
  /** The loop trains with our trainer (not axolotl) and serves with our engines (no served endpoints). */
  trains: boolean;
  trainConfig: TrainConfig;
  /** Needs the chat template (build template chat, depth or transition probes, retention). */
  needsTemplate: boolean;
  /** RTO's refusal token (build.refusal_token; default `Sorry`) and the transition probe's. */
  refusalTokens: (string | number)[];
  resetToken?: string;
  engine: 'llamacpp' | 'refusenik' | 'external';
  llamacpp?: LlamaCppSetup;
  gguf?: string;
  /** Where models and data will be written. */
  workdir: string;
  python: string;
}

export interface PreflightReport {
  problems: string[];
  facts: Record<string, unknown>;
}

export function preflight(i: PreflightInput): PreflightReport {
  const problems: string[] = [];
  const facts: Record<string, unknown> = {};
  const modelDir = i.model;
  if (!existsSync(modelDir) || !statSync(modelDir).isDirectory()) {
    problems.push(
      `base.model: ${modelDir} is not a folder (an HF model folder: config.json, weights, tokenizer)`,
    );
    return { problems, facts };
  }
  let tok: DertaTokenizer | undefined;
  try {
    tok = loadTokenizer(modelDir);
    facts['tokenizer'] = tok.file;
  } catch (err) {
    problems.push(`tokenizer: ${(err as Error).message}`);
  }
  // Only a model we train needs its weights' config here (an external trainer gets a tokenizer folder).
  const config = i.trains ? readConfig(path.join(modelDir, 'config.json'), problems) : undefined;
  if (tok && config) {
    const eosIds = ([] as unknown[])
      .concat(config['eos_token_id'] ?? [])
      .filter((v) => typeof v === 'number');
    facts['eos'] = { token: tok.eosToken, id: tok.eosId, config_eos_token_id: eosIds };
    if (tok.eosId === undefined)
      problems.push(`tokenizer: no eos_token in ${path.join(modelDir, 'tokenizer_config.json')}`);
    else if (eosIds.length && !eosIds.includes(tok.eosId)) {
      const named = eosIds.map((id) => `${id} (${tok?.decode([id as number]) ?? '?'})`).join(', ');
      problems.push(
        `tokenizer: its EOS token ${JSON.stringify(tok.eosToken)} (id ${tok.eosId}) is not the model's ` +
          `eos_token_id ${named} in config.json: every trained answer would end with the wrong token. Fix ` +
          'eos_token in tokenizer_config.json (scripts/setup-models.sh does this for GGUF imports)',
      );
    }
  }
  if (tok && i.needsTemplate) {
    if (!tok.chatTemplate) {
      problems.push(
        `chat template: none in ${modelDir} (neither chat_template.jinja nor tokenizer_config.json's chat_template)`,
      );
    } else {
      try {
        const { tail } = chatFramer(tok)('Hello');
        facts['end_of_turn'] = tail;
        if (tok.eosToken && !tail.includes(tok.eosToken) && !tok.specialTokens.some((s) => tail.includes(s)))
          problems.push(
            `chat template: the assistant turn does not end with a special token (got ${JSON.stringify(tail)})`,
          );
      } catch (err) {
        problems.push(`chat template: ${(err as Error).message}`);
      }
    }
  }
  if (tok) {
    for (const t of i.refusalTokens) {
      try {
        facts[`refusal_token:${t}`] = refusalTokenId(tok, t);
      } catch (err) {
        problems.push(`refusal token: ${(err as Error).message}`);
      }
    }
    if (i.resetToken !== undefined) {
      const id = tok.tokenToId(i.resetToken);
      if (id === undefined || !tok.specialTokens.includes(i.resetToken))
        problems.push(
          `reset token ${JSON.stringify(i.resetToken)} is not an added special token of this tokenizer ` +
            `(it has: ${tok.specialTokens.slice(0, 12).join(' ')}…); set build.reset_token`,
        );
    }
  }
  if (i.trains) {
    const packages = requiredPackages(i.trainConfig);
    try {
      const env = checkPythonEnv(i.python, packages);
      facts['python'] = { path: i.python, version: env.version };
      if (env.missing.length)
        problems.push(
          `Python environment ${i.python} lacks ${env.missing.join(', ')} (run: bash scripts/setup-python.sh)`,
        );
    } catch (err) {
      problems.push(`Python environment: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  if (i.engine === 'llamacpp' && i.llamacpp) problems.push(...llamaCppProblems(i.llamacpp, i.gguf));
  if (i.engine === 'llamacpp' && i.trainConfig.preset !== 'lora')
    problems.push(
      'engine llamacpp serves the trained model as a LoRA adapter over base.gguf: use train.preset lora',
    );
  // Disk: the trained adapter or model, its checkpoints and the data, with room to spare.
  const weights = folderBytes(modelDir);
  const need = i.trainConfig.preset === 'lora' ? weights * 2 + 2 ** 30 : weights * 4 + 2 ** 30;
  try {
    const fs = statfsSync(existingParent(i.workdir));
    const free = fs.bavail * fs.bsize;
    facts['disk_free_bytes'] = free;
    if (free < need)
      problems.push(
        `disk: ${(free / 2 ** 30).toFixed(1)} GiB free at ${i.workdir}, about ${(need / 2 ** 30).toFixed(1)} GiB needed`,
      );
  } catch {
    // statfs is unavailable on this platform: nothing to say
  }
  return { problems, facts };
}

export function preflightError(problems: string[]): InputError {
  return new InputError(
    `the loop cannot run; found before any model call:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
  );
}

function readConfig(file: string, problems: string[]): Record<string, unknown> | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    problems.push(`base.model: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    return undefined;
  }
}

function folderBytes(dir: string): number {
  let total = 0;
  try {
    for (const name of ['model.safetensors', 'pytorch_model.bin']) {
      const f = path.join(dir, name);
      if (existsSync(f)) total += statSync(f).size;
    }
  } catch {
    // unreadable: counted as empty
  }
  return total;
}

function existingParent(p: string): string {
  let dir = path.resolve(p);
  while (!existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { canonicalJson, sha256 } from '../util/hash.js';

/**
 * A judge's full configuration as the key of its stored validation: kind, options (temperature, threshold,
 * ...), the judge model's id and base URL, and the content hash of any prompt/template/lexicon file an
 * option names. Never an API key: secret-looking options are dropped, `api_key_env` names a variable only.
 * The same judge configured in a run config or on the command line gives the same hash.
 */
export interface JudgeConfig {
  kind: string;
  model: { id: string; base_url?: string } | null;
  options: Record<string, unknown>;
}

const SECRET_KEY = /authorization|api[-_]?key$|secret|password|cookie|bearer|^headers$/i;
const FILE_KEY = /template|prompt|rubric|lexicon|file|path/i;

export function judgeConfig(
  kind: string,
  options: Readonly<Record<string, unknown>>,
  model?: { id: string; base_url?: string },
): JudgeConfig {
  const out: Record<string, unknown> = {};
  let fromOption: JudgeConfig['model'] = null;
  for (const key of Object.keys(options).sort()) {
    const v = options[key];
    if (key === 'model') {
      fromOption = modelOf(v);
      continue;
    }
    // `id` only names the instance; secrets never go into a key.
    if (key === 'id' || SECRET_KEY.test(key)) continue;
    out[key] = typeof v === 'string' && FILE_KEY.test(key) ? fileRef(v) : v;
  }
  return { kind, model: model ?? fromOption, options: out };
}

export function judgeConfigHash(config: JudgeConfig): string {
  return sha256(canonicalJson(config));
}

function modelOf(v: unknown): JudgeConfig['model'] {
  if (typeof v === 'string') return { id: v };
  if (v && typeof v === 'object' && typeof (v as { id?: unknown }).id === 'string') {
    const spec = v as { id: string; base_url?: unknown };
    return { id: spec.id, ...(typeof spec.base_url === 'string' ? { base_url: spec.base_url } : {}) };
  }
  return null;
}

/** A file an option names is keyed by its content, not its path. */
function fileRef(v: string): unknown {
  try {
    if (existsSync(v) && statSync(v).isFile()) {
      return { file: path.basename(v), sha256: sha256(readFileSync(v)) };
    }
  } catch {
    // not a readable file: keep the string as given
  }
  return v;
}

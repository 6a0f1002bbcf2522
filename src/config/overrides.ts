import { parse as parseYaml } from 'yaml';
import { InputError } from '../errors.js';

/**
 * `--set path=value` overrides, applied to the parsed config before validation so a shared recipe (e.g.
 * examples/codeattack-paper.yaml) can be pointed at another model without editing it. `path` is dotted with
 * `[n]` indexes (`targets[0].id`, `dataset.limit`); `value` is read as YAML (`10`, `true`, `[a, b]`, `{x: 1}`).
 * The overridden config is what the run stores and hashes, so its run id differs from the file's.
 */
export function applyOverrides(config: unknown, overrides: readonly string[]): unknown {
  let root = config;
  for (const spec of overrides) {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw new InputError(`--set expects path=value, got '${spec}'`, { field: '--set' });
    const keys = parsePath(spec.slice(0, eq));
    let value: unknown;
    try {
      value = parseYaml(spec.slice(eq + 1));
    } catch {
      value = spec.slice(eq + 1);
    }
    root = setAt(root, keys, value, spec);
  }
  return root;
}

function parsePath(text: string): (string | number)[] {
  const keys: (string | number)[] = [];
  for (const part of text.split('.')) {
    const m = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part);
    if (!m || (m[1] === '' && m[2] === ''))
      throw new InputError(`bad --set path '${text}'`, { field: '--set' });
    if (m[1]) keys.push(m[1]);
    for (const idx of (m[2] ?? '').matchAll(/\[(\d+)\]/g)) keys.push(Number(idx[1]));
  }
  return keys;
}

function setAt(node: unknown, keys: (string | number)[], value: unknown, spec: string): unknown {
  if (keys.length === 0) return value;
  const [key, ...rest] = keys as [string | number, ...(string | number)[]];
  if (typeof key === 'number') {
    const list = Array.isArray(node) ? [...(node as unknown[])] : undefined;
    if (!list || key > list.length) {
      throw new InputError(`${spec}: no list item ${key} there`, { field: '--set' });
    }
    list[key] = setAt(list[key], rest, value, spec);
    return list;
  }
  const obj =
    node !== null && typeof node === 'object' && !Array.isArray(node)
      ? { ...(node as Record<string, unknown>) }
      : {};
  obj[key] = setAt(obj[key], rest, value, spec);
  // A dataset is a path or a pack file: setting one replaces the other (`--set dataset.path=goals.jsonl`).
  if (rest.length === 0 && key === 'path' && 'pack' in obj) {
    delete obj['pack'];
    delete obj['file'];
  }
  if (rest.length === 0 && key === 'pack' && 'path' in obj) delete obj['path'];
  return obj;
}
